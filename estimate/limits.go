package estimate

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// ErrImplausible marks an input beyond physical sense: a model, tensor,
// GPU or limit larger than any real one by an order of magnitude (the
// limits below). Such an input is refused before any arithmetic, because
// the products of a few of them overflow int64 and the estimate would
// print negative weights. Errors wrapping it also wrap ErrInvalid.
var ErrImplausible = errors.New("implausible input")

// ErrOverflow marks byte or token arithmetic that does not fit in int64.
// Errors wrapping it also wrap ErrInvalid: only inputs beyond the limits
// below can get there.
var ErrOverflow = errors.New("arithmetic overflow")

// Plausibility limits. Each is an order of magnitude (or more) above the
// largest public model or GPU, so no real input is refused, and each is a
// power of two, so that the largest products the estimate forms stay far
// inside int64 (see tokenBytes and checkTensors). The largest values in the
// embedded catalog (hfmeta/catalog/models) are quoted for comparison.
const (
	// MaxLayers bounds num_hidden_layers: Llama-3.1-405B has 126 (catalog:
	// Qwen3-235B-A22B, 94): 16×.
	MaxLayers = 1 << 11
	// MaxHidden bounds hidden_size (and kv_lora_rank, q_lora_rank):
	// Megatron-Turing NLG 530B has 20,480 (catalog: Llama-3.3-70B, 8,192): 12×.
	MaxHidden = 1 << 18
	// MaxHeads bounds num_attention_heads and num_key_value_heads: 160 in
	// the 1T-parameter Megatron configurations (catalog: DeepSeek-R1, 128): 100×.
	MaxHeads = 1 << 14
	// MaxHeadDim bounds head_dim and MLA's qk_rope_head_dim,
	// qk_nope_head_dim and v_head_dim (catalog: Gemma 3, 256): 64×.
	MaxHeadDim = 1 << 14
	// MaxIntermediate bounds intermediate_size and moe_intermediate_size:
	// PaLM 540B has 73,728 (catalog: Mistral-Small-3.2, 32,768): 14×.
	MaxIntermediate = 1 << 20
	// MaxVocab bounds vocab_size (catalog: Gemma 3, 262,144): 64×.
	MaxVocab = 1 << 24
	// MaxExperts bounds the routed, per-token and shared expert counts:
	// Qwen3-Next has 512 routed experts (catalog: DeepSeek-R1, 256): 128×.
	MaxExperts = 1 << 16
	// MaxTokens bounds every length in tokens: max_position_embeddings,
	// sliding_window and the token limits of Settings. Llama 4 Scout's
	// context is 10,485,760 tokens: 100×.
	MaxTokens = 1 << 30
	// MaxGPUBytes bounds one GPU's memory: B300 and MI355X have 288 GB: 14×.
	MaxGPUBytes Bytes = 1 << 42
	// MaxGPUs bounds the GPUs of one engine instance: an NVL72 rack has 72: 14×.
	MaxGPUs = 1 << 10
	// MaxTensorElements bounds one tensor's element count: gpt-oss-120b's
	// fused experts (128 × 2,880 × 5,760 ≈ 2^31) are the largest public ones: 512×.
	MaxTensorElements = 1 << 40
	// MaxTensorCount bounds Tensor.Count, a group of layers × experts.
	MaxTensorCount = MaxLayers * MaxExperts
	// MaxCheckpointElements bounds the parameters of a checkpoint (1.4 ×
	// 10^14, at most 1 PiB at 8 bytes each): the largest public one, Kimi
	// K2, holds about 10^12: 140×.
	MaxCheckpointElements = 1 << 47
	// MaxTokenBytes bounds the memory of one token (1 GiB): its KV cache
	// over all layers, or its activations in one layer's widest phase.
	// DeepSeek-V3 in TGI (full K/V per head) stores 5.7 MiB per token: 180×.
	MaxTokenBytes Bytes = 1 << 30
	// maxFactor bounds Corrections.ActivationFactor (calibrated ones are 0.5–2.5).
	maxFactor = 1000
)

// modelKeys are the config.json keys of Model's integer fields, in the
// order of Model.sizes, and modelMax their limits.
var (
	modelKeys = [...]string{"num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
		"head_dim", "intermediate_size", "vocab_size", "max_position_embeddings", "num_local_experts",
		"num_experts_per_tok", "moe_intermediate_size", "n_shared_experts", "first_k_dense_replace",
		"kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "sliding_window"}
	modelMax = [len(modelKeys)]int{MaxLayers, MaxHidden, MaxHeads, MaxHeads,
		MaxHeadDim, MaxIntermediate, MaxVocab, MaxTokens, MaxExperts,
		MaxExperts, MaxIntermediate, MaxExperts, MaxLayers,
		MaxHidden, MaxHidden, MaxHeadDim, MaxHeadDim, MaxHeadDim, MaxTokens}
)

// sizes lists m's integer fields in the order of modelKeys.
func (m *Model) sizes() [len(modelKeys)]int {
	return [...]int{m.Layers, m.Hidden, m.Heads, m.KVHeads,
		m.HeadDim, m.Intermediate, m.Vocab, m.MaxPositions, m.Experts,
		m.ExpertsPerToken, m.MoEIntermediate, m.SharedExperts, m.DenseLayers,
		m.KVLoraRank, m.QLoraRank, m.QKRopeHeadDim, m.QKNopeHeadDim, m.VHeadDim, m.SlidingWindow}
}

// ModelLimit is the plausibility limit of a config.json key as Model names
// it (num_hidden_layers, hidden_size, ...), and whether there is one.
func ModelLimit(key string) (int, bool) {
	for i, k := range modelKeys {
		if k == key {
			return modelMax[i], true
		}
	}
	return 0, false
}

// beyond is the message for a value over its limit.
func beyond(name string, v, limit int64) string {
	return name + " " + strconv.FormatInt(v, 10) + " is beyond " + strconv.FormatInt(limit, 10)
}

// implausible wraps the messages of values beyond their limits.
func implausible(msgs []string) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalid, ErrImplausible, strings.Join(msgs, "; "))
}

// checkModel refuses negative sizes and sizes beyond their limits, naming
// each config key, and a model whose one token needs more than
// MaxTokenBytes.
func checkModel(m *Model) error {
	hd := m.HeadSize()
	if !modelWithin(m) || (m.Heads > 0 && hd == 0) {
		if err := modelError(m); err != nil {
			return err
		}
	}
	if b := tokenBytes(m, hd); b > MaxTokenBytes {
		return implausible([]string{"one token of this model takes " + b.String() +
			" of KV cache or activations, beyond " + MaxTokenBytes.String()})
	}
	return nil
}

// modelWithin reports whether every size of m is ≥ 0 and below its limit,
// without naming any: it runs on every estimate. An OR of sizes is below a
// power of two exactly when each is, and a negative one is not, as a uint;
// a size exactly at its limit takes modelError's way, which accepts it.
func modelWithin(m *Model) bool {
	return uint(m.Layers|m.DenseLayers) < MaxLayers && uint(m.Hidden|m.KVLoraRank|m.QLoraRank) < MaxHidden &&
		uint(m.Heads|m.KVHeads) < MaxHeads && uint(m.HeadDim|m.QKRopeHeadDim|m.QKNopeHeadDim|m.VHeadDim) < MaxHeadDim &&
		uint(m.Intermediate|m.MoEIntermediate) < MaxIntermediate && uint(m.Vocab) < MaxVocab &&
		uint(m.MaxPositions|m.SlidingWindow) < MaxTokens && uint(m.Experts|m.ExpertsPerToken|m.SharedExperts) < MaxExperts
}

// modelError names the negative sizes of m, else those beyond their
// limits (nil when there are none).
func modelError(m *Model) error {
	var bad, neg []string
	for i, n := range m.sizes() {
		switch {
		case n < 0:
			neg = append(neg, modelKeys[i]+" must be ≥ 0 (got "+strconv.Itoa(n)+")")
		case n > modelMax[i]:
			bad = append(bad, beyond(modelKeys[i], int64(n), int64(modelMax[i])))
		}
	}
	if m.Heads > 0 && m.HeadSize() == 0 {
		// hidden_size < num_attention_heads without head_dim: a KV cache of 0 bytes per token.
		neg = append(neg, "head size hidden_size/num_attention_heads = "+strconv.Itoa(m.Hidden)+"/"+strconv.Itoa(m.Heads)+" is 0 and there is no head_dim")
	}
	switch {
	case len(neg) > 0:
		return fmt.Errorf("%w: model %s", ErrInvalid, strings.Join(neg, "; "))
	case len(bad) > 0:
		return implausible(bad)
	}
	return nil
}

// tokenBytes bounds from above the bytes one token costs in any engine's
// KV cache (all layers, unsharded) or in one layer's activations, at 4
// bytes an element. With every field within its limit no product here
// exceeds 2^11 · 2^14 · 2^18 · 2^3 = 2^46, and every engine's per-token
// term is at most this, so with tokens ≤ MaxTokens (2^30) and this ≤
// MaxTokenBytes (2^30) their products stay below 2^60.
func tokenBytes(m *Model, headSize int) Bytes {
	heads, kv, hd := int64(m.Heads), int64(max(m.KVHeads, m.Heads)), int64(headSize)
	// MLA widths; TGI stores MLA as full heads of 192 (kv.go).
	hd = max(hd, int64(m.KVLoraRank+m.QKRopeHeadDim), int64(m.QKNopeHeadDim+m.QKRopeHeadDim), int64(m.VHeadDim))
	if m.IsMLA() {
		hd = max(hd, 192)
	}
	kvCache := 2 * int64(max(m.Layers, 1)) * kv * hd
	ie := int64(max(m.ExpertWidth(), m.Intermediate))
	k := int64(max(m.ExpertsPerToken, 1))
	width := 4*int64(m.Hidden) + 4*(heads+kv)*hd + 4*ie + k*(4*ie+int64(m.Hidden)) +
		4*int64(m.SharedExperts)*ie + 4*int64(m.Experts) + 4*int64(m.Vocab) + int64(m.KVLoraRank+m.QLoraRank)
	return Bytes(4 * max(kvCache, width))
}

// checkTensors refuses negative dimensions, tensors beyond
// MaxTensorElements or MaxTensorCount, and checkpoints of more than
// MaxCheckpointElements, naming the first that is. The engines' weight
// loops count the same as they go (tally) and call it only when the tally
// went wrong, for its message.
func checkTensors(ts []Tensor) error {
	var c tally
	for i := range ts {
		if c.elements(&ts[i]); c.bad {
			t := &ts[i]
			if uint64(t.N()) > MaxTensorCount {
				return implausible([]string{"tensor " + t.Name + " count " + strconv.FormatInt(t.Count, 10) + " is beyond " +
					strconv.FormatInt(MaxTensorCount, 10)})
			}
			if c.total <= MaxCheckpointElements {
				return tensorError(t)
			}
			return implausible([]string{"the checkpoint's tensors hold more than " + strconv.FormatInt(MaxCheckpointElements, 10) + " elements"})
		}
	}
	return nil
}

// tally checks tensors as a weight loop reads them: every product of
// shape and count is checked, at most 8 bytes an element, so the elements
// bound the bytes. It reads no dtype (a string compare): it runs for every
// tensor of every estimate.
type tally struct {
	total uint64 // elements so far
	bad   bool   // a tensor or the total is beyond its limit
}

// elements returns t's element count (0 when beyond MaxTensorElements) and
// adds its group's elements to the total.
func (c *tally) elements(t *Tensor) int64 {
	n := uint64(1)
	for _, d := range t.Shape {
		hi, lo := bits.Mul64(n, uint64(d)) // a negative d is above 2^63 here
		if hi != 0 || lo > MaxTensorElements {
			c.bad = true
			return 0
		}
		n = lo
	}
	cnt := uint64(t.N()) // a negative Count is above 2^63 as well, Count 0 is 1
	// n ≤ 2^40 and cnt ≤ 2^27 when within: n·cnt < 2^67 is checked; total ≤ 2^47 before the add.
	hi, lo := bits.Mul64(n, cnt)
	c.total += lo
	c.bad = c.bad || hi != 0 || cnt > MaxTensorCount || c.total > MaxCheckpointElements
	return int64(n)
}

// err is nil when every tensor counted was within the limits, else
// checkTensors' error for ts.
func (c *tally) err(ts []Tensor) error {
	if !c.bad {
		return nil
	}
	if err := checkTensors(ts); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w: the checkpoint's tensors", ErrInvalid, ErrImplausible)
}

// tensorError says what is wrong with a tensor's shape.
func tensorError(t *Tensor) error {
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("%w: tensor %s has a negative dimension in shape %v", ErrInvalid, t.Name, t.Shape)
		}
	}
	return implausible([]string{"tensor " + t.Name + " of shape " + shapeText(t.Shape) + " has more than " +
		strconv.FormatInt(MaxTensorElements, 10) + " elements"})
}

func shapeText(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(d, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// mul64 returns a·b for a, b ≥ 0 and whether it fits in int64.
func mul64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// within reports whether every magnitude checkMagnitudes checks is within
// its limit, without naming any: it runs on every estimate. An OR of
// non-negative values is below a power of two exactly when all of them are.
func within(hw Hardware, s *Settings) bool {
	tokens := s.MaxInputTokens | s.MaxTotalTokens | s.MaxBatchPrefillTokens | s.MaxBatchSize | s.NumShard |
		s.Speculate | s.RequestInputTokens | s.RequestOutputTokens | s.MaxModelLen | s.MaxNumBatchedTokens |
		s.MaxNumSeqs | s.BlockSize | s.ChunkedPrefillSize | s.SGLangMaxTotalTokens
	c := s.Corrections
	return tokens < MaxTokens && hw.Count < MaxGPUs && hw.GPU.TotalBytes < MaxGPUBytes &&
		uint(hw.GPU.SMITotalMiB) < uint(MaxGPUBytes/MiB) && s.ExtraOverheadBytes < MaxGPUBytes && s.ExtraOverheadBytes > -MaxGPUBytes &&
		(c == nil || (c.OverheadBytes < MaxGPUBytes && c.OverheadBytes > -MaxGPUBytes && c.CUDAGraphBytes < MaxGPUBytes && c.CUDAGraphBytes > -MaxGPUBytes && c.ActivationFactor <= maxFactor))
}

// checkMagnitudes refuses GPUs, settings and corrections beyond their
// limits, naming each flag in the engine's words.
func checkMagnitudes(hw Hardware, e EngineInfo, s *Settings) error {
	var bad []string
	if hw.Count > MaxGPUs {
		bad = append(bad, beyond("--gpus", int64(hw.Count), MaxGPUs))
	}
	if hw.GPU.TotalBytes > MaxGPUBytes {
		bad = append(bad, beyond("gpu memory (bytes)", int64(hw.GPU.TotalBytes), int64(MaxGPUBytes)))
	}
	if v := hw.GPU.SMITotalMiB; v < 0 || Bytes(v) > MaxGPUBytes/MiB {
		bad = append(bad, beyond("gpu memory.total (MiB)", int64(v), int64(MaxGPUBytes/MiB)))
	}
	var lims [14]namedLimit
	s.limits(&lims)
	for i := range lims {
		if f := &lims[i]; f.v > MaxTokens {
			bad = append(bad, beyond(flagName(e.Name, f.name), int64(f.v), MaxTokens))
		}
	}
	if v := s.ExtraOverheadBytes; v > MaxGPUBytes || v < -MaxGPUBytes {
		bad = append(bad, beyond("extra overhead (bytes)", int64(v), int64(MaxGPUBytes)))
	}
	if c := s.Corrections; c != nil {
		if v := c.OverheadBytes; v > MaxGPUBytes || v < -MaxGPUBytes {
			bad = append(bad, beyond("corrections overhead_bytes", int64(v), int64(MaxGPUBytes)))
		}
		if v := c.CUDAGraphBytes; v > MaxGPUBytes || v < -MaxGPUBytes {
			bad = append(bad, beyond("corrections cuda_graph_bytes", int64(v), int64(MaxGPUBytes)))
		}
		if c.ActivationFactor > maxFactor {
			bad = append(bad, fmt.Sprintf("corrections activation_factor %g is beyond %d", c.ActivationFactor, maxFactor))
		}
	}
	if len(bad) > 0 {
		return implausible(bad)
	}
	return nil
}

// checkResult is the last line of defence: a result with a negative byte
// figure or token count, or with a part of its total beyond 2^61 bytes (2
// EiB: so that their sum cannot wrap), comes from arithmetic that wrapped,
// and is refused rather than printed; so is a total made negative by a
// negative overhead. It runs on every estimate: one OR of the signs.
func checkResult(r *Result) error {
	b, st, bd := &r.PerGPU, &r.Startup, &r.Boundary
	parts := b.Weights | b.KVCache | b.NCCL | b.Other | b.CUDAGraphs
	rest := b.ActivationPeak | b.Reserve | r.KVBytesPerToken | st.WarmupBytes | st.WarmupKVBytes | st.ActivationBytes | st.CapacityBytes
	tokens := st.MaxBatchTotalTokens | st.MaxConcurrentRequests | st.WarmupTokens |
		bd.MaxTotalTokens | bd.MaxBatchTotalTokens | bd.MaxConcurrentRequests | bd.MaxBatchPrefillTokens
	switch {
	case parts < 0 || rest < 0 || tokens < 0:
		return fmt.Errorf("%w: %w: a byte figure or token count of the result is negative", ErrInvalid, ErrOverflow)
	case parts >= 1<<61:
		return fmt.Errorf("%w: %w: a part of the per-GPU total is beyond 2^61 bytes", ErrInvalid, ErrOverflow)
	}
	if sum := b.Weights + b.KVCache + b.NCCL + b.Other + b.CUDAGraphs; sum+b.CUDAContext < 0 {
		return fmt.Errorf("%w: the per-GPU total is negative: an overhead of %s is less than minus the rest (%s)", ErrInvalid, b.CUDAContext, sum)
	}
	return nil
}
