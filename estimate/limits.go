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
	// MaxCheckpointBytes bounds the checkpoint's total bytes (1 PiB): the
	// largest public ones (Kimi K2 in BF16) are about 2 TB: 500×.
	MaxCheckpointBytes Bytes = 1 << 50
	// MaxTokenBytes bounds the memory of one token (1 GiB): its KV cache
	// over all layers, or its activations in one layer's widest phase.
	// DeepSeek-V3 in TGI (full K/V per head) stores 5.7 MiB per token: 180×.
	MaxTokenBytes Bytes = 1 << 30
	// maxFactor bounds Corrections.ActivationFactor (calibrated ones are 0.5–2.5).
	maxFactor = 1000
)

// modelField is one integer field of Model, under its config.json key.
type modelField struct {
	key string
	v   int
	max int
}

// modelFields lists m's integer fields with their keys and limits.
func modelFields(m *Model) [19]modelField {
	return [...]modelField{
		{"num_hidden_layers", m.Layers, MaxLayers},
		{"hidden_size", m.Hidden, MaxHidden},
		{"num_attention_heads", m.Heads, MaxHeads},
		{"num_key_value_heads", m.KVHeads, MaxHeads},
		{"head_dim", m.HeadDim, MaxHeadDim},
		{"intermediate_size", m.Intermediate, MaxIntermediate},
		{"vocab_size", m.Vocab, MaxVocab},
		{"max_position_embeddings", m.MaxPositions, MaxTokens},
		{"num_local_experts", m.Experts, MaxExperts},
		{"num_experts_per_tok", m.ExpertsPerToken, MaxExperts},
		{"moe_intermediate_size", m.MoEIntermediate, MaxIntermediate},
		{"n_shared_experts", m.SharedExperts, MaxExperts},
		{"first_k_dense_replace", m.DenseLayers, MaxLayers},
		{"kv_lora_rank", m.KVLoraRank, MaxHidden},
		{"q_lora_rank", m.QLoraRank, MaxHidden},
		{"qk_rope_head_dim", m.QKRopeHeadDim, MaxHeadDim},
		{"qk_nope_head_dim", m.QKNopeHeadDim, MaxHeadDim},
		{"v_head_dim", m.VHeadDim, MaxHeadDim},
		{"sliding_window", m.SlidingWindow, MaxTokens},
	}
}

// ModelLimit is the plausibility limit of a config.json key as Model names
// it (num_hidden_layers, hidden_size, ...), and whether there is one.
func ModelLimit(key string) (int, bool) {
	var m Model
	for _, f := range modelFields(&m) {
		if f.key == key {
			return f.max, true
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
	var bad, neg []string
	for _, f := range modelFields(m) {
		switch {
		case f.v < 0:
			neg = append(neg, f.key+" must be ≥ 0 (got "+strconv.Itoa(f.v)+")")
		case f.v > f.max:
			bad = append(bad, beyond(f.key, int64(f.v), int64(f.max)))
		}
	}
	if m.HeadSize() == 0 && m.Heads > 0 {
		// hidden_size < num_attention_heads without head_dim: a KV cache of 0 bytes per token.
		neg = append(neg, "head size hidden_size/num_attention_heads = "+strconv.Itoa(m.Hidden)+"/"+strconv.Itoa(m.Heads)+" is 0 and there is no head_dim")
	}
	if len(neg) > 0 {
		return fmt.Errorf("%w: model %s", ErrInvalid, strings.Join(neg, "; "))
	}
	if len(bad) > 0 {
		return implausible(bad)
	}
	if b := tokenBytes(m); b > MaxTokenBytes {
		return implausible([]string{"one token of this model takes " + b.String() +
			" of KV cache or activations, beyond " + MaxTokenBytes.String()})
	}
	return nil
}

// tokenBytes bounds from above the bytes one token costs in any engine's
// KV cache (all layers, unsharded) or in one layer's activations, at 4
// bytes an element. With every field within its limit no product here
// exceeds 2^11 · 2^14 · 2^18 · 2^3 = 2^46, and every engine's per-token
// term is at most this, so with tokens ≤ MaxTokens (2^30) and this ≤
// MaxTokenBytes (2^30) their products stay below 2^60.
func tokenBytes(m *Model) Bytes {
	heads, kv, hd := int64(m.Heads), int64(max(m.KVHeads, m.Heads)), int64(m.HeadSize())
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
// MaxTensorElements or MaxTensorCount, and checkpoints beyond
// MaxCheckpointBytes; every product is checked.
func checkTensors(ts []Tensor) error {
	var total int64
	for i := range ts {
		t := &ts[i]
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("%w: tensor %s has a negative dimension in shape %v", ErrInvalid, t.Name, t.Shape)
			}
			var ok bool
			if n, ok = mul64(n, d); !ok || n > MaxTensorElements {
				return implausible([]string{"tensor " + t.Name + " of shape " + shapeText(t.Shape) + " has more than " +
					strconv.FormatInt(MaxTensorElements, 10) + " elements"})
			}
		}
		if t.Count < 0 || t.Count > MaxTensorCount {
			return implausible([]string{"tensor " + t.Name + " count " + strconv.FormatInt(t.Count, 10) + " is beyond " +
				strconv.FormatInt(MaxTensorCount, 10)})
		}
		// n ≤ 2^40 and bits ≤ 64: n·bits ≤ 2^46; times Count ≤ 2^27 is checked.
		b, ok := mul64((n*int64(t.DType.Bits())+7)/8, t.N())
		if total += b; !ok || total > int64(MaxCheckpointBytes) {
			return implausible([]string{"the checkpoint's tensors take more than " + MaxCheckpointBytes.String()})
		}
	}
	return nil
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
		if c.ActivationFactor > maxFactor {
			bad = append(bad, fmt.Sprintf("corrections activation_factor %g is beyond %d", c.ActivationFactor, maxFactor))
		}
	}
	if len(bad) > 0 {
		return implausible(bad)
	}
	return nil
}

// checkResult is the last line of defence: a result whose bytes are
// negative, or whose total is not the sum of its parts, comes from
// arithmetic that wrapped, and is refused rather than printed.
func checkResult(r *Result) error {
	b := &r.PerGPU
	st := &r.Startup
	parts := [...]Bytes{b.Weights, b.KVCache, b.NCCL, b.Other, b.CUDAGraphs, b.ActivationPeak, b.Reserve,
		r.KVBytesPerToken, st.WarmupBytes, st.WarmupKVBytes, st.ActivationBytes, st.CapacityBytes}
	var sum Bytes
	for i, v := range parts {
		if v < 0 {
			return fmt.Errorf("%w: %w: byte figure %d of the result is negative (%d)", ErrInvalid, ErrOverflow, i, v)
		}
		if i < 5 { // the parts of Total besides the CUDA context
			if sum += v; sum < 0 {
				return fmt.Errorf("%w: %w: the per-GPU total does not fit in int64", ErrInvalid, ErrOverflow)
			}
		}
	}
	if sum+b.CUDAContext < 0 {
		return fmt.Errorf("%w: the per-GPU total is negative: an overhead of %s is less than minus the rest (%s)", ErrInvalid, b.CUDAContext, sum)
	}
	for _, n := range [...]int{st.MaxBatchTotalTokens, st.MaxConcurrentRequests, st.WarmupTokens,
		r.Boundary.MaxTotalTokens, r.Boundary.MaxBatchTotalTokens, r.Boundary.MaxConcurrentRequests, r.Boundary.MaxBatchPrefillTokens} {
		if n < 0 {
			return fmt.Errorf("%w: %w: a token count of the result is negative (%d)", ErrInvalid, ErrOverflow, n)
		}
	}
	return nil
}
