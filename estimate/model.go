package estimate

import (
	"fmt"
	"strings"
)

// DType is an element type, spelled as safetensors headers spell it
// (BF16, F16, F32, F8_E4M3, I32, U8, ...).
type DType string

// Element types known to the estimator. Bits per element come from the
// safetensors format (enum Dtype, https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L779-L825,
// and Dtype::bitsize, https://github.com/huggingface/safetensors/blob/v0.7.0/safetensors/src/tensor.rs#L829-L852). Not known: the
// F8_E4M3FNUZ and F8_E5M2FNUZ of safetensors releases after v0.7.0.
const (
	BOOL    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	I16     DType = "I16"
	U16     DType = "U16"
	I32     DType = "I32"
	U32     DType = "U32"
	I64     DType = "I64"
	U64     DType = "U64"
	F16     DType = "F16"
	BF16    DType = "BF16"
	F32     DType = "F32"
	F64     DType = "F64"
	F8E4M3  DType = "F8_E4M3"
	F8E5M2  DType = "F8_E5M2"
	F8E8M0  DType = "F8_E8M0"
	F4      DType = "F4"
	F6E2M3  DType = "F6_E2M3"
	F6E3M2  DType = "F6_E3M2"
	C64     DType = "C64"
	dtypeNo DType = ""
)

// Bits returns the bits per element, or 0 for an unknown type.
func (d DType) Bits() int {
	switch d {
	case BOOL, U8, I8, F8E4M3, F8E5M2, F8E8M0:
		return 8
	case I16, U16, F16, BF16:
		return 16
	case I32, U32, F32:
		return 32
	case I64, U64, F64, C64:
		return 64
	case F4:
		return 4
	case F6E2M3, F6E3M2:
		return 6
	}
	return 0
}

// IsFloat reports whether d is a floating-point type that an engine casts
// to its compute dtype at load (F16, BF16, F32, F64). Packed quantized data
// (U8, I32, F8, F4) keeps its stored size.
func (d DType) IsFloat() bool {
	switch d {
	case F16, BF16, F32, F64:
		return true
	}
	return false
}

// ErrUnknownDType is returned (wrapped) for a dtype name the estimator does
// not know.
var ErrUnknownDType = fmt.Errorf("estimate: unknown dtype")

// ParseDType accepts safetensors names (BF16, F8_E4M3), torch names
// (bfloat16, float16, half, float32, float) and the engines' KV-cache flag
// values (fp8, fp8_e4m3, fp8_e4m3fn, fp8_e5m2). "auto" and "" give "".
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "torch.")) {
	case "", "auto":
		return dtypeNo, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "f16", "fp16", "float16", "half":
		return F16, nil
	case "f32", "fp32", "float32", "float":
		return F32, nil
	case "f64", "float64", "double":
		return F64, nil
	case "fp8", "f8_e4m3", "fp8_e4m3", "fp8_e4m3fn", "float8_e4m3fn":
		return F8E4M3, nil
	case "f8_e5m2", "fp8_e5m2", "float8_e5m2":
		return F8E5M2, nil
	case "f8_e8m0", "float8_e8m0fnu":
		return F8E8M0, nil
	case "f4", "fp4":
		return F4, nil
	case "bool":
		return BOOL, nil
	case "u8", "uint8":
		return U8, nil
	case "i8", "int8":
		return I8, nil
	case "i16", "int16":
		return I16, nil
	case "u16", "uint16":
		return U16, nil
	case "i32", "int32":
		return I32, nil
	case "u32", "uint32":
		return U32, nil
	case "i64", "int64":
		return I64, nil
	case "u64", "uint64":
		return U64, nil
	case "f6_e2m3":
		return F6E2M3, nil
	case "f6_e3m2":
		return F6E3M2, nil
	case "c64", "complex64":
		return C64, nil
	}
	return dtypeNo, fmt.Errorf("%w %q (want bfloat16, float16, float32, fp8_e4m3fn or fp8_e5m2)", ErrUnknownDType, s)
}

// Tensor is one tensor of a checkpoint as its safetensors header describes
// it, or a group of Count tensors that share name pattern, dtype and shape
// (the embedded catalog stores "model.layers.*.mlp.experts.*.down_proj.weight"
// once with Count = layers × experts).
type Tensor struct {
	Name  string  `json:"name"`
	DType DType   `json:"dtype"`
	Shape []int64 `json:"shape"`
	// Count is how many tensors this entry stands for; 0 means 1.
	Count int64 `json:"count,omitempty"`
}

// Elements returns the element count of one tensor of the group.
func (t Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// N returns how many tensors the entry stands for (at least 1).
func (t Tensor) N() int64 {
	if t.Count <= 0 {
		return 1
	}
	return t.Count
}

// Bytes returns the stored size of the whole group.
func (t Tensor) Bytes() int64 {
	return (t.Elements()*int64(t.DType.Bits()) + 7) / 8 * t.N()
}

// Model holds the architecture facts the estimator needs, taken from a
// Hugging Face config.json (for multimodal configs, from text_config) and,
// when available, the checkpoint's safetensors headers. Zero means "not
// given" unless a field says otherwise.
type Model struct {
	// ID is the Hub repo id or local path, for display only.
	ID string
	// Type is model_type (llama, mistral, qwen2, gemma3, deepseek_v3, ...).
	Type string
	// Layers (num_hidden_layers; n_layer, num_layers) is the decoder layer count.
	Layers int
	// Hidden (hidden_size; n_embd, d_model) is the residual width in elements.
	Hidden int
	// Heads (num_attention_heads; n_head) is the query head count.
	Heads int
	// KVHeads (num_key_value_heads; multi_query → 1) is the key/value head
	// count; 0 means equal to Heads (MHA).
	KVHeads int
	// HeadDim (head_dim) is the per-head width in elements; 0 means Hidden/Heads.
	HeadDim int
	// Intermediate (intermediate_size; ffn_dim, n_inner) is the dense MLP width.
	Intermediate int
	// Vocab (vocab_size) is the vocabulary size in tokens.
	Vocab int
	// MaxPositions (max_position_embeddings; n_positions, max_seq_len) is the
	// longest sequence the model supports, in tokens.
	MaxPositions int
	// Rope is rope_scaling (rope_parameters): how the engines derive the
	// default context from MaxPositions (vllm.go, sglang.go).
	Rope RopeScaling
	// TieWordEmbeddings (tie_word_embeddings) shares the input embedding with lm_head.
	TieWordEmbeddings bool
	// DType (torch_dtype, dtype) is the checkpoint's float type.
	DType DType

	// Experts (num_local_experts, num_experts, n_routed_experts) is the routed
	// expert count of MoE layers; 0 for dense models.
	Experts int
	// ExpertsPerToken (num_experts_per_tok) is top-k routing.
	ExpertsPerToken int
	// MoEIntermediate (moe_intermediate_size) is each expert's width; 0 means Intermediate.
	MoEIntermediate int
	// SharedExperts (n_shared_experts) is the always-on expert count.
	SharedExperts int
	// DenseLayers (first_k_dense_replace) is how many leading layers use a
	// dense MLP in an MoE model (DeepSeek V2/V3).
	DenseLayers int

	// KVLoraRank (kv_lora_rank) marks multi-head latent attention (DeepSeek V2/V3) when > 0.
	KVLoraRank int
	// QLoraRank (q_lora_rank) is MLA's query compression width; 0 means none.
	QLoraRank int
	// QKRopeHeadDim (qk_rope_head_dim) is MLA's rotary part per head.
	QKRopeHeadDim int
	// QKNopeHeadDim (qk_nope_head_dim) is MLA's non-rotary part per head.
	QKNopeHeadDim int
	// VHeadDim (v_head_dim) is MLA's value width per head.
	VHeadDim int

	// SlidingWindow (sliding_window) is the local attention window in tokens; 0 means none.
	SlidingWindow int
	// LayerTypes (layer_types) lists "full_attention"/"sliding_attention" per layer when the config gives it.
	LayerTypes []string

	// Kinds lists the cache-holding modules in layer order when the config
	// spells out a layout other than uniform attention (hybrid state layers,
	// chunked local attention, KV sharing; a layer with both an attention
	// and a Mamba mixer, as Falcon-H1, has one entry for each). Empty means
	// one module per layer (CacheKinds).
	Kinds []LayerKind
	// State is the state layers' geometry (Kinds holds the state layers).
	State State
	// AttentionChunk (attention_chunk_size) is chunked local attention's
	// chunk in tokens (Llama 4); 0 means none.
	AttentionChunk int
	// IndexHeadDim (index_head_dim) is the sparse-attention indexer's key
	// width per token and layer (DeepSeek-V3.2); 0 means no indexer.
	IndexHeadDim int
	// MTPLayers is how many multi-token-prediction layers the checkpoint
	// carries beyond Layers (num_nextn_predict_layers, mtp_num_hidden_layers,
	// num_mtp_modules): the draft of speculative decoding's "mtp" method.
	// The engines load them only when that method is on.
	MTPLayers int

	// Layout facts that SynthesizeTensors reads to derive the weights of
	// hybrid and sparse-attention families exactly (synth_hybrid.go).

	// IndexHeads (index_n_heads) is the DeepSeek-V3.2 indexer's query head count.
	IndexHeads int
	// SharedExpertWidth is the width of the one shared-expert MLP of
	// Qwen3-Next and Qwen3.5 (shared_expert_intermediate_size), Nemotron-H
	// (moe_shared_expert_intermediate_size) and Granite-4.0-H
	// (shared_intermediate_size, present on dense layers too).
	SharedExpertWidth int
	// SparseStep (decoder_sparse_step) makes every SparseStep-th layer MoE
	// (Qwen3-Next); 0 means 1. MLPOnlyLayers (mlp_only_layers) lists layers
	// that stay dense whatever the step.
	SparseStep    int
	MLPOnlyLayers []int
	// ExpertPeriod and ExpertOffset (expert_layer_period, expert_layer_offset):
	// Jamba's layer i is MoE when i % ExpertPeriod == ExpertOffset; a zero
	// period means JambaConfig's defaults 2 and 1.
	ExpertPeriod, ExpertOffset int
	// BlockPattern (hybrid_override_pattern) is Nemotron-H's block per layer:
	// M Mamba2, * attention, - MLP, E MoE.
	BlockPattern string
	// MambaDtRank (mamba_dt_rank) is Jamba's Mamba time-step rank; 0 means
	// "auto", ceil(hidden/16).
	MambaDtRank int
	// MambaConvBias (mamba_conv_bias, use_conv_bias) gives the Mamba
	// convolution a bias; MambaProjBias (mamba_proj_bias, use_bias) gives
	// in_proj and out_proj one; MambaGatedNorm (Falcon-H1's mamba_rms_norm)
	// gives Falcon-H1's mixer its gated RMSNorm, which the other Mamba2
	// families always have.
	MambaConvBias, MambaProjBias, MambaGatedNorm bool

	// QuantMethod (quantization_config.quant_method) names a pre-quantized checkpoint (fp8, gptq, awq, mxfp4, ...).
	QuantMethod string
	// QuantActOrder: a GPTQ checkpoint quantized with act-order
	// (quantization_config.desc_act) or per channel (group_size −1). vLLM
	// and SGLang then keep every row-parallel layer's scales and zero
	// points whole on each rank instead of splitting their input groups
	// (marlin_repeat_scales_on_all_ranks,
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/quantization/utils/marlin_utils.py#L272-L278,
	// used at
	// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/quantization/gptq_marlin.py#L386-L397;
	// the same in
	// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/layers/quantization/marlin_utils.py#L299-L305
	// and https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/layers/quantization/gptq/schemes/gptq_marlin.py#L79-L85).
	QuantActOrder bool
	// Vision is true when the config has a vision_config (a VLM).
	Vision bool
	// VisionTower is the vision encoder and projector read from
	// vision_config; SynthesizeTensors derives their tensors when its Kind
	// is a known family (towerDerived).
	VisionTower VisionTower
	// StateLayers: the config has per-sequence state layers (Mamba, gated
	// delta net, linear attention) besides or instead of attention.
	StateLayers bool
	// Unmodelled names each memory-relevant feature of the config the
	// estimate does not size (per-sequence state layers, KV sharing,
	// chunked local or sparse attention, an unknown model_type), one
	// phrase each: Run then says so and sets Result.Confidence "low".
	Unmodelled []string

	// Tensors lists the checkpoint's tensors from its safetensors headers.
	// When empty, the estimator derives them from the architecture
	// (SynthesizeTensors) and says so in Result.WeightsFrom.
	Tensors []Tensor
	// TensorsFrom says where Tensors came from, for Result.WeightsFrom:
	// WeightsFromSafetensors (also when empty), WeightsFromCatalog or
	// WeightsFromCatalogUnchecked.
	TensorsFrom string
}

// Where the weight bytes of a Result came from (Result.WeightsFrom).
const (
	// WeightsFromSafetensors: the checkpoint's own safetensors headers.
	WeightsFromSafetensors = "safetensors headers"
	// WeightsFromCatalog: the built-in catalog's tensor list, derived from
	// config.json and checked against the Hub's published parameter count.
	WeightsFromCatalog = "catalog (derived from config.json, checked against the published parameter count)"
	// WeightsFromCatalogUnchecked: the built-in catalog's tensor list,
	// derived from config.json, for a model whose parameter count is not published.
	WeightsFromCatalogUnchecked = "catalog (derived from config.json; no published parameter count to check it against)"
	// WeightsFromConfig: derived from config.json by SynthesizeTensors here.
	WeightsFromConfig = "config.json"
)

// checkpointTensors is the checkpoint's tensors: the headers', or derived
// from the architecture when there are none.
func (m *Model) checkpointTensors() []Tensor {
	if len(m.Tensors) > 0 {
		return m.Tensors
	}
	return SynthesizeTensors(*m)
}

// weightsSource is the Result.WeightsFrom label for m.
func (m *Model) weightsSource() string {
	switch {
	case len(m.Tensors) == 0:
		return WeightsFromConfig
	case m.TensorsFrom != "":
		return m.TensorsFrom
	}
	return WeightsFromSafetensors
}

// KVHeadCount returns the KV head count with the MHA default applied.
func (m *Model) KVHeadCount() int {
	if m.KVHeads > 0 {
		return m.KVHeads
	}
	return m.Heads
}

// HeadSize returns head_dim, or Hidden/Heads when the config has none.
func (m *Model) HeadSize() int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 {
		return m.Hidden / m.Heads
	}
	return 0
}

// IsMLA reports whether the model uses multi-head latent attention.
func (m *Model) IsMLA() bool { return m.KVLoraRank > 0 }

// IsMoE reports whether the model has routed experts.
func (m *Model) IsMoE() bool { return m.Experts > 0 }

// ExpertWidth returns moe_intermediate_size, falling back to intermediate_size.
func (m *Model) ExpertWidth() int {
	if m.MoEIntermediate > 0 {
		return m.MoEIntermediate
	}
	return m.Intermediate
}

// RopeScaling is a config's rope_scaling (or rope_parameters) as far as it
// moves the default context; the zero value means none.
type RopeScaling struct {
	// Type is rope_type (or type): linear, dynamic, yarn, llama3, longrope, ...
	Type string
	// Factor is factor; 0 means absent.
	Factor float64
	// OriginalMax is original_max_position_embeddings inside rope_scaling; 0 means absent.
	OriginalMax int
}
