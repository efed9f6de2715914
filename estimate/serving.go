package estimate

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// servingTP resolves the tensor-parallel degree and checks vLLM's (and
// SGLang's) head divisibility rules: query heads split evenly; KV heads split
// when tp ≤ kv and are replicated when tp is a multiple of them
// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen2.py#L138-L151, Qwen2Attention's
// asserts, the same in every decoder; the query-heads message is
// ModelConfig.verify_with_parallel_config's,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/model.py#L1105-L1116; the KV-heads message is
// vramcalc's own, upstream asserts without one).
func servingTP(m Model, hw Hardware, s Settings) (int, error) {
	tp := s.NumShard
	if tp == 0 {
		tp = hw.Count
	}
	if m.Heads%tp != 0 {
		return 0, fmt.Errorf("%w: Total number of attention heads (%d) must be divisible by tensor parallel size (%d)", ErrInvalid, m.Heads, tp)
	}
	if kv := m.KVHeadCount(); !m.IsMLA() && kv > 0 {
		if (kv >= tp && kv%tp != 0) || (kv < tp && tp%kv != 0) {
			return 0, fmt.Errorf("%w: num_key_value_heads (%d) and tensor parallel size (%d) must divide one another", ErrInvalid, kv, tp)
		}
	}
	return tp, nil
}

// servingDTypes resolves the activation and KV element sizes.
func servingDTypes(s Settings) (elt int64, kvElt int, err error) {
	elt = 2
	switch s.DType {
	case dtypeNo, F16, BF16:
	case F32:
		elt = 4
	default:
		return 0, 0, fmt.Errorf("%w: --dtype %s (want auto, float16, bfloat16 or float32)", ErrInvalid, s.DType)
	}
	kvElt = int(elt)
	switch s.KVCacheDType {
	case dtypeNo:
	case F8E4M3, F8E5M2:
		kvElt = 1
	case F16, BF16:
		kvElt = 2
	case F32:
		kvElt = 4
	default:
		if isKVFormat(s.KVCacheDType) {
			kvElt = 1 // the engine sizes the format itself (kvformat.go)
			break
		}
		return 0, 0, fmt.Errorf("%w: --kv-cache-dtype %s (want auto, fp8, fp8_e4m3 or fp8_e5m2)", ErrInvalid, s.KVCacheDType)
	}
	return elt, kvElt, nil
}

// padVocab rounds the vocabulary up to a multiple of 64, as
// VocabParallelEmbedding and ParallelLMHead do (DEFAULT_VOCAB_PADDING_SIZE,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/vocab_parallel_embedding.py#L28,
// pad_vocab_size,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/vocab_parallel_embedding.py#L75-L77).
func padVocab(v int) int { return (v + 63) / 64 * 64 }

// nvlsBoard reports an NVSwitch Hopper (or later) board, where NCCL sets up
// NVLink SHARP buffers: SXM H100/H200/B200/B300, not PCIe or NVL cards, and
// not the GeForce and RTX PRO Blackwell cards (compute capability 12.x),
// which have no NVLink at all.
func nvlsBoard(g GPU) bool {
	n := g.Name
	if containsFold(n, "pcie") || containsFold(n, "nvl") || containsFold(n, "geforce") || containsFold(n, "rtx") {
		return false
	}
	datacenter := g.ComputeCapability >= 90 && g.ComputeCapability < 110
	return datacenter || containsFold(n, "h100") || containsFold(n, "h200") || containsFold(n, "b200")
}

// containsFold reports whether s contains the lower-case ASCII sub in any
// case (GPU names, without the allocation of strings.ToLower).
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// servingForwardBytes is the activation peak of one forward over n tokens on one
// rank, beyond weights: the larger of the attention phase and the MLP (or
// fused-MoE) phase, each counted as the tensors alive at once (derived; for
// eager V0 it reproduces the 2.07 GiB peak of Llama-3.1-8B at 20,000 tokens
// in testdata/startup_reports_dev.csv row 44).
func servingForwardBytes(m *Model, tp int, n int64, elt int64, hidden int64) int64 {
	h := int64(m.Hidden)
	w := int64(tp)
	// Fields, not the value-receiver methods: through a pointer each
	// inlined call copies the whole Model, and this runs for every probe of
	// the boundary searches.
	hd := int64(m.HeadDim)
	if hd == 0 && m.Heads > 0 {
		hd = int64(m.Hidden / m.Heads)
	}
	kvh := int64(m.KVHeads)
	if kvh == 0 {
		kvh = int64(m.Heads)
	}
	nh := int64(m.Heads) / w
	kvr := max(1, kvh/w)
	attn := hidden*h + (nh+2*kvr)*hd + nh*hd
	if m.KVLoraRank > 0 {
		qk := int64(m.QKNopeHeadDim + m.QKRopeHeadDim)
		attn = hidden*h + nh*qk + int64(m.KVLoraRank+m.QKRopeHeadDim) + nh*(int64(m.QKNopeHeadDim)+int64(m.VHeadDim)) + nh*int64(m.VHeadDim)
	}
	mlp := hidden*h + 3*int64(m.Intermediate)/w
	if m.Experts > 0 {
		// fused_experts: intermediate_cache1/3 share one buffer of
		// M·k·max(2·Ie/tp, H), cache2 is M·k·Ie/tp; plus the output, the
		// router's fp32 logits and the shared experts as a dense MLP
		// (fused_experts_impl,
		// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/model_executor/layers/fused_moe/fused_moe.py#L1534-L1545;
		// there M is capped at VLLM_FUSED_MOE_CHUNK_SIZE = 32768 tokens,
		// https://github.com/vllm-project/vllm/blob/v0.10.1.1/vllm/model_executor/layers/fused_moe/fused_moe.py#L1509-L1510,
		// not modelled). Limitation: recent releases run unquantized MoE
		// through the TritonExperts modular kernel, which keeps cache2 in a
		// workspace of M·k·max(Ie/tp, H) shared with the output
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/fused_moe/fused_moe.py#L1976-L1991,
		// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/fused_moe/modular_kernel.py#L1059-L1068):
		// more than this for experts narrower than hidden. The release where
		// that path became the default was not pinned.
		ie := int64(cmp.Or(m.MoEIntermediate, m.Intermediate)) / w
		k := int64(max(1, m.ExpertsPerToken))
		moe := hidden*h + k*(max(2*ie, h)+ie) + h + 2*int64(m.Experts)*4/elt + 3*int64(m.SharedExperts)*ie
		if m.DenseLayers == 0 || moe > mlp {
			mlp = moe
		}
	}
	return n * max(attn, mlp) * elt
}

// requestShape is the request the concurrency figures are for.
func requestShape(s Settings, mml int) int {
	if s.RequestInputTokens > 0 || s.RequestOutputTokens > 0 {
		return s.RequestInputTokens + s.RequestOutputTokens
	}
	return mml
}

// commas writes n with thousands separators, as vLLM's logs do (12,345).
func commas(n int) string {
	var buf [32]byte
	d := strconv.AppendInt(buf[:0], int64(n), 10)
	neg := d[0] == '-'
	if neg {
		d = d[1:]
	}
	out := make([]byte, 0, len(d)+len(d)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// servingWeights is the most loaded rank's parameter bytes under vLLM's and
// SGLang's tensor parallelism, which differ from TGI's:
//   - the embedding and lm_head are padded to a multiple of 64 rows and split
//     on the vocabulary
//     (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/vocab_parallel_embedding.py#L246-L251,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/vocab_parallel_embedding.py#L287-L291;
//     ParallelLMHead subclasses VocabParallelEmbedding,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/vocab_parallel_embedding.py#L500);
//   - tied embeddings share one tensor: a checkpoint's lm_head.weight is not
//     loaded when tie_word_embeddings is set;
//   - k_proj/v_proj hold max(1, kv_heads/tp) heads per rank (replicated
//     when tp > kv_heads,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/linear.py#L1012-L1016);
//   - row-parallel biases and norms are whole on every rank;
//   - one rotary cos/sin cache [max_position_embeddings, rotary_dim] in the
//     model dtype (get_rope caches one per configuration,
//     https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/rotary_embedding/__init__.py#L68-L78;
//     the cache, https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/rotary_embedding/base.py#L58-L63
//     and https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/rotary_embedding/base.py#L83-L92),
//     which makes "Model loading took 14.99 GiB" for Llama-3.1-8B (8.03 B
//     params + 32 MiB) and 1.12 GiB for the tied Qwen3-0.6B
//     (testdata/startup_reports_dev.csv rows 20, 21). Limitation: rotary_dim is taken as the
//     head size (qk_rope_head_dim for MLA); upstream scales it by
//     partial_rotary_factor and sizes YaRN/LongRoPE caches by
//     max_position × the scaling factor, neither modelled.
//
// --quantization fp8 stores every linear weight in one byte (not lm_head or
// the embeddings); pre-quantized checkpoints keep their stored layout.
// Tensors beyond the limits of checkTensors give its error.
func servingWeights(m Model, tensors []Tensor, tp int, s Settings, computeBits int) (Bytes, error) {
	pre := ""
	if m.QuantMethod != "" && !tensorsQuantized(tensors) {
		pre = strings.ToLower(m.QuantMethod)
	}
	// The bits of a float linear weight, once for all tensors.
	linBits, quantized := preQuantBits16(pre)
	if !quantized {
		linBits, quantized = onLoadQuantBits16(strings.ToLower(s.Quantize))
	}
	w := int64(tp)
	kv := int64(m.KVHeadCount())
	kvr := max(1, kv/w)
	splitKV := kv > 0 && !m.IsMLA()
	var total int64
	var c tally
	for i, f := range tensorFacts(tensors) {
		t := &tensors[i]
		if (f.kind == lmHead && m.TieWordEmbeddings) || (f.layer >= m.Layers && m.Layers > 0) {
			continue // a tied head is not loaded, nor layers the engine never builds
		}
		bits16 := t.DType.Bits() * 16
		if t.DType.IsFloat() && !f.scale {
			bits16 = computeBits * 16
		}
		linear := (f.kind == column || f.kind == row) && !f.bias && len(t.Shape) >= 2
		if linear && quantized && t.DType.IsFloat() {
			bits16 = linBits
		}
		elems := c.elements(t)
		switch f.kind {
		case column:
			if f.kvProj && splitKV {
				elems = elems / kv * kvr
			} else {
				elems = ceilDiv64(elems, w)
			}
		case row:
			// GPTQ act-order keeps a row-parallel layer's scales and
			// qzeros whole on every rank (Model.QuantActOrder); its g_idx
			// is split like the weight.
			whole := f.bias || (m.QuantActOrder && f.scale && !strings.HasSuffix(t.Name, "g_idx"))
			if !whole {
				elems = ceilDiv64(elems, w)
			}
		case embedding, lmHead:
			if len(t.Shape) == 2 {
				rows := ceilDiv64(int64(padVocab(int(t.Shape[0]))), w)
				elems = rows * t.Shape[1]
			}
		}
		total += (elems*int64(bits16)/16 + 7) / 8 * t.N()
	}
	return Bytes(total) + ropeCache(m, computeBits), c.err(tensors)
}

// ropeCache is the rotary cos/sin cache: max_position × the rotary
// dimension (the head size, qk_rope_head_dim for MLA) in the compute dtype.
func ropeCache(m Model, computeBits int) Bytes {
	if m.MaxPositions <= 0 {
		return 0
	}
	rot := int64(m.HeadSize())
	if m.IsMLA() && m.QKRopeHeadDim > 0 {
		rot = int64(m.QKRopeHeadDim)
	}
	return Bytes(int64(m.MaxPositions) * rot * int64(computeBits/8))
}

// isKVProj reports a separate k_proj or v_proj tensor (not MLA's kv_a/kv_b).
func isKVProj(name string) bool {
	base := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		base = name[:i]
	}
	last := base[strings.LastIndexByte(base, '.')+1:]
	return last == "k_proj" || last == "v_proj"
}
