package estimate

import (
	"fmt"
	"strings"
)

// KV cache formats beyond one element type: block-scaled FP4 and FP8 and
// per-token-head scales. The engines' rules, with their sources, are in
// docs/KV-DTYPES.md; its §-numbers are cited below.

// KV cache formats --kv-cache-dtype names (ParseKVCacheDType).
const (
	// KVNVFP4 is nvfp4: 4-bit elements with an fp8 scale per 16 (vLLM from
	// v0.21.0 on datacenter Blackwell; SGLang from v0.5.16, with
	// fp4_mx_block16 the same layout).
	KVNVFP4 DType = "nvfp4"
	// KVFP4Block16 is SGLang's fp4_mx_block16: nvfp4's layout on any CUDA GPU.
	KVFP4Block16 DType = "fp4_mx_block16"
	// KVMXFP8 is SGLang's mxfp8: fp8 elements with a scale byte per 32.
	KVMXFP8 DType = "mxfp8"
	// KVInt8PerTokenHead, KVFP8PerTokenHead and KVInt4PerTokenHead are
	// vLLM's per-token-head formats: 8- or 4-bit elements with an fp32
	// scale per token, head and K/V (from v0.20.0; int4 later).
	KVInt8PerTokenHead DType = "int8_per_token_head"
	KVFP8PerTokenHead  DType = "fp8_per_token_head"
	KVInt4PerTokenHead DType = "int4_per_token_head"
)

// isKVFormat reports a --kv-cache-dtype that is a format, not an element type.
func isKVFormat(d DType) bool {
	switch d {
	case KVNVFP4, KVFP4Block16, KVMXFP8, KVInt8PerTokenHead, KVFP8PerTokenHead, KVInt4PerTokenHead:
		return true
	}
	return false
}

// ParseKVCacheDType reads --kv-cache-dtype: the element types ParseDType
// knows (fp8 and its aliases, fp8_inc, bfloat16, …) and the formats above.
// Values vramcalc does not size
// (turboquant_*, fp4_e2m1, nvfp4_ds_mla, nvfp4_4over6) are refused by name.
func ParseKVCacheDType(s string) (DType, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); {
	case v == "nvfp4", v == "fp4_mx_block16", v == "mxfp8", v == "int8_per_token_head", v == "fp8_per_token_head", v == "int4_per_token_head":
		return DType(v), nil
	case v == "fp8_inc":
		// Intel Gaudi's fp8 (float8_e4m3fn, one byte; docs/KV-DTYPES.md §1).
		return F8E4M3, nil
	case strings.HasPrefix(v, "turboquant_") || v == "fp4_e2m1" || v == "nvfp4_ds_mla" || v == "nvfp4_4over6":
		return dtypeNo, fmt.Errorf("%w: --kv-cache-dtype %s is not modelled (sized: auto, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2, fp8_inc, nvfp4, mxfp8, int8_per_token_head, fp8_per_token_head, int4_per_token_head)", ErrUnsupported, v)
	}
	return ParseDType(s)
}

// kvFormatPerToken is a KV format's bytes per token on one of ws ranks,
// over the layers that own KV (docs/KV-DTYPES.md §1.5, §2.5), H KV heads
// per rank of width D:
//
//	nvfp4:                  H·2·(D/2 + D/16); MLA (r+p)/2 + (r+p)/16 (SGLang only)
//	mxfp8:                  H·2·D·(1 + 1/32) (SGLang only)
//	int8/fp8_per_token_head: H·2·D + 2·H·4 (vLLM only)
//	int4_per_token_head:     H·2·(D/2) + 2·H·4 (vLLM only)
func kvFormatPerToken(m *Model, ws int, d DType) Bytes {
	layers := Bytes(m.kvLayers())
	if m.IsMLA() {
		latent := Bytes(m.KVLoraRank + m.QKRopeHeadDim)
		return layers * (latent/2 + latent/16)
	}
	h, dim := Bytes(max(1, m.KVHeadCount()/ws)), Bytes(m.HeadSize())
	switch d {
	case KVNVFP4, KVFP4Block16:
		return layers * h * 2 * (dim/2 + dim/16)
	case KVMXFP8:
		return layers * h * 2 * (dim + dim/32)
	case KVInt8PerTokenHead, KVFP8PerTokenHead:
		return layers * (h*2*dim + 2*h*4)
	case KVInt4PerTokenHead:
		return layers * (h*2*(dim/2) + 2*h*4)
	}
	return 0
}

// vllmKVFormatFrom are the first releases whose --kv-cache-dtype accepts
// each format (docs/KV-DTYPES.md §1.1, §1.3): the per-token-head formats
// from v0.20.0, nvfp4 with a backend from v0.21.0, int4_per_token_head
// merged after v0.23.0 (v0.24.0 taken; not pinned).
var vllmKVFormatFrom = map[DType]Version{
	KVInt8PerTokenHead: {0, 20, 0}, KVFP8PerTokenHead: {0, 20, 0},
	KVNVFP4: {0, 21, 0}, KVInt4PerTokenHead: {0, 24, 0},
}

// vllmKVFormat checks a format for a vLLM start (docs/KV-DTYPES.md §1.4)
// and returns its bytes per token.
func (r *vllmRun) vllmKVFormat() (Bytes, error) {
	d := r.s.KVCacheDType
	from, ok := vllmKVFormatFrom[d]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: --kv-cache-dtype %s is SGLang's, not vLLM's", ErrInvalid, d)
	case !r.prof.v1 || r.prof.v.Less(from):
		return 0, fmt.Errorf("%w: --kv-cache-dtype %s needs vLLM %s or later (got %s)", ErrInvalid, d, from, r.prof.v)
	case r.m.IsMLA():
		return 0, fmt.Errorf("%w: --kv-cache-dtype %s is not supported with MLA in vLLM", ErrInvalid, d)
	case d == KVNVFP4 && r.hw.GPU.ComputeCapability != 100 && r.hw.GPU.ComputeCapability != 103:
		return 0, fmt.Errorf("%w: vLLM's nvfp4 KV cache runs only on FlashInfer's kernels for datacenter Blackwell (compute capability 10.0 or 10.3)", ErrInvalid)
	}
	if d == KVInt4PerTokenHead {
		r.note("int4_per_token_head was merged after vLLM v0.23.0; v0.24.0 is taken as its first release (not pinned)")
	}
	if d != KVNVFP4 {
		r.note("vLLM's per-token-head KV formats run on the Triton attention backend only")
	}
	return kvFormatPerToken(&r.m, r.tp, d), nil
}

// sglangKVFormatFrom is the first SGLang release taking nvfp4, fp4_mx_block16 and mxfp8
// (docs/KV-DTYPES.md §2.1).
var sglangKVFormatFrom = Version{0, 5, 16}

// sglangKVFormat checks a format for an SGLang start (docs/KV-DTYPES.md
// §2.4) and returns its cell: the FP4 formats add one shared fp8 workspace of
// 2·H·D per token for an MHA model (§2.5).
func (r *sglangRun) sglangKVFormat() (Bytes, error) {
	d, cc := r.s.KVCacheDType, r.hw.GPU.ComputeCapability
	switch {
	case d != KVNVFP4 && d != KVFP4Block16 && d != KVMXFP8:
		return 0, fmt.Errorf("%w: --kv-cache-dtype %s is vLLM's, not SGLang's", ErrInvalid, d)
	case r.v.Less(sglangKVFormatFrom):
		return 0, fmt.Errorf("%w: --kv-cache-dtype %s needs SGLang %s or later (got %s)", ErrInvalid, d, sglangKVFormatFrom, r.v)
	case d == KVNVFP4 && cc/10 != 10 && cc/10 != 12:
		return 0, fmt.Errorf("%w: --kv-cache-dtype=nvfp4 requires Blackwell SM100 or SM120. Use --kv-cache-dtype=fp4_mx_block16 for the block-size-16 FP4 recipe.", ErrInvalid)
	case d == KVMXFP8 && cc < 100:
		return 0, fmt.Errorf("%w: --kv-cache-dtype mxfp8 requires an SM100+ (Blackwell) GPU for the block-scaled operands used by the FA4 MXFP8 attention path.", ErrInvalid)
	case d == KVMXFP8 && r.m.IsMLA():
		return 0, fmt.Errorf("%w: --kv-cache-dtype mxfp8 with MLA is not modelled", ErrUnsupported)
	}
	cell := kvFormatPerToken(&r.m, r.tp, d)
	if d != KVMXFP8 && !r.m.IsMLA() {
		cell += Bytes(2 * max(1, r.m.KVHeadCount()/r.tp) * r.m.HeadSize())
	}
	return cell, nil
}
