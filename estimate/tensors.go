package estimate

import (
	"strings"
	"sync/atomic"
)

// shardKind is how TGI's tensor-parallel layers split a tensor
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/tensor_parallel.py#L39-L249:
// TensorParallelHead from L39, ColumnLinear from L118, RowLinear from L183,
// Embedding from L212).
type shardKind int

const (
	// replicated: norms, routers, small per-layer vectors; every rank holds all of it.
	replicated shardKind = iota
	// column: TensorParallelColumnLinear splits the output dim (q/k/v, gate/up).
	column
	// row: TensorParallelRowLinear splits the input dim (o_proj, down); its
	// bias is loaded on every rank and added on rank 0 only.
	row
	// embedding: TensorParallelEmbedding splits the vocab into ⌈V/ws⌉ rows
	// and pads one zero row with F.pad, a new tensor
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/tensor_parallel.py#L212-L249).
	embedding
	// lmHead: split on the vocab when V % ws == 0, else the full head is
	// loaded on every rank
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/tensor_parallel.py#L46-L73).
	lmHead
)

// classifyTensor maps a Hugging Face tensor name to its TGI sharding. It
// runs for every tensor of every estimate, so it does not allocate.
func classifyTensor(name string) shardKind {
	dot := strings.LastIndexByte(name, '.')
	// Fused expert tensors stored without a ".weight" suffix (gpt-oss
	// "mlp.experts.gate_up_proj_blocks", "mlp.experts.down_proj_bias") are
	// named by their last part; every engine splits them like the linears
	// they pack: gate_up on its output, down on its input.
	param := name[dot+1:]
	for _, suffix := range [...]string{"_bias", "_scales", "_blocks"} {
		param = strings.TrimSuffix(param, suffix)
	}
	if k, ok := linearKind(param); ok {
		return k
	}
	// Drop the parameter suffix (weight, bias, qweight, scales, weight_scale_inv, ...).
	base := name
	if dot >= 0 {
		base = name[:dot]
	}
	first := base
	if i := strings.IndexByte(base, '.'); i >= 0 {
		first = base[:i]
	}
	last := base[strings.LastIndexByte(base, '.')+1:]
	// A VLM's head sits under its language model ("language_model.lm_head"
	// in Llama 4 and Mistral 3 checkpoints).
	if first == "lm_head" || last == "lm_head" || name == "output.weight" || first == "embed_out" || strings.Contains(base, ".embed_out") {
		return lmHead
	}
	switch last {
	case "embed_tokens", "wte", "word_embeddings", "tok_embeddings", "embed_in":
		return embedding
	case "embeddings":
		// Nemotron-H's backbone.embeddings, vLLM's embed_tokens
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/nemotron_h.py#L575-L578,
		// renamed at #L799).
		if first == "backbone" {
			return embedding
		}
	}
	if k, ok := linearKind(last); ok {
		return k
	}
	return visionKind(base, last)
}

// visionKind splits the Qwen-VL vision towers' linears, which all three
// engines shard across TP by default: the block's fused attn.qkv on its
// output and attn.proj on its input, Qwen3-VL's mlp.linear_fc1/linear_fc2
// and the patch mergers' linear_fc1/linear_fc2 (Qwen3-VL, its deepstack
// mergers) and mlp.0/mlp.2 (Qwen2/2.5-VL) as column/row. vLLM (default
// mm_encoder_tp_mode "weights",
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/config/multimodal.py#L144):
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen2_5_vl.py#L334-L350,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen2_5_vl.py#L546-L563,
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen3_vl.py#L190-L206 and
// https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/models/qwen3_vl.py#L291-L306;
// SGLang (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/layers/attention/vision.py#L1130-L1157,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/models/qwen2_5_vl.py#L235-L253,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/models/qwen3_vl.py#L120-L135);
// TGI (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/qwen2_5_vl.py#L407-L420,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/qwen2_5_vl.py#L601-L606).
// The patch embedding's proj (a convolution) stays whole, as do the
// multimodal projectors' linear_1/linear_2, which the engines treat per model.
func visionKind(base, last string) shardKind {
	switch last {
	case "linear_fc1":
		return column
	case "linear_fc2":
		return row
	}
	for _, v := range visionLinears {
		if strings.HasSuffix(base, v.suffix) {
			return v.kind
		}
	}
	return replicated
}

// visionLinears are the vision towers' linears named by their place. mlp.0
// and mlp.2 of one shape compact into one group (hfmeta.CompactTensors):
// both weights split; row keeps the two biases whole, over by half of
// mlp.0's bias (5 KiB at TP 2 for a 5120-wide merger) rather than under.
var visionLinears = [...]struct {
	suffix string
	kind   shardKind
}{
	{".attn.qkv", column}, {".attn.proj", row},
	{"merger.mlp.0", column}, {"merger.mlp.2", row}, {"merger.mlp.*", row},
}

// linearKind says whether a layer name is column- or row-parallel: the
// names of the column- and row-parallel layers across the architectures TGI
// serves (the custom_modeling/flash_*_modeling.py files; Llama's, for one,
// loads q/k/v as one column-parallel linear and o_proj row-parallel,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L107-L113 and
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L187-L192, gate/up column- and down row-parallel,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L328-L361).
func linearKind(layer string) (shardKind, bool) {
	switch layer {
	case "q_proj", "k_proj", "v_proj", "qkv_proj", "query_key_value", "c_attn",
		"gate_proj", "up_proj", "gate_up_proj", "w1", "w3", "fc1", "c_fc", "dense_h_to_4h",
		"q_b_proj", "kv_b_proj", "Wqkv":
		return column, true
	case "o_proj", "down_proj", "w2", "fc2", "out_proj", "c_proj", "dense_4h_to_h", "dense":
		return row, true
	case "f_b_proj", "g_b_proj", "b_proj", "q_conv1d", "k_conv1d", "v_conv1d":
		// Kimi-Linear's KDA projections and convolutions, which vLLM
		// splits on the output (ColumnParallelLinear,
		// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/kda.py#L167-L235);
		// TGI does not serve the model.
		return column, true
	case "in_proj", "conv1d", "dt_proj", "in_proj_qkvz", "in_proj_ba", "in_proj_qkv", "in_proj_z", "in_proj_b", "in_proj_a":
		// The state mixers' input projections and convolutions, split on
		// the output: Mamba's in_proj, conv1d and dt_proj
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/mamba/mamba_mixer.py#L85-L120),
		// Mamba2's (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/mamba/mamba_mixer2.py#L306-L350),
		// the gated delta net's in_proj_qkvz / in_proj_qkv + in_proj_z and
		// in_proj_ba (Qwen3.5's in_proj_b and in_proj_a packed into it)
		// and its conv1d
		// (https://github.com/vllm-project/vllm/blob/v0.19.0/vllm/model_executor/layers/mamba/gdn_linear_attn.py#L265-L320).
		// TGI serves none of these models.
		return column, true
	case "x_proj":
		// Mamba's x_proj is row-parallel (mamba_mixer.py#L105 above).
		return row, true
	case "output_gate":
		// MiniMax's lightning-attention output gate, column-parallel in
		// vLLM (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/model_executor/layers/mamba/linear_attn.py#L309-L315).
		return column, true
	}
	return replicated, false
}

// isBias reports a bias vector.
func isBias(name string) bool {
	return strings.HasSuffix(name, ".bias") || strings.HasSuffix(name, "_bias")
}

// isScale reports quantization metadata that keeps its stored dtype.
func isScale(name string) bool {
	return strings.Contains(name, "scale") || strings.HasSuffix(name, "g_idx") ||
		strings.HasSuffix(name, "qzeros") || strings.HasSuffix(name, "e_score_correction_bias")
}

// onLoadQuantBits is the storage of a linear weight quantized at load, in
// bits per parameter ×16 to keep fractions exact (nf4: 4 bits + one fp32
// absmax per 64 → 4.5 bits = 72/16).
func onLoadQuantBits16(q string) (int, bool) {
	switch q {
	case "fp8", "eetq", "bitsandbytes":
		// fp8: 1 B (e4m3), eetq: int8 + per-channel scales (counted as 1 B),
		// bitsandbytes LLM.int8: int8 + row stats.
		return 8 * 16, true
	case "bitsandbytes-nf4", "bitsandbytes-fp4":
		// 4-bit values + an fp32 absmax per 64-value block = 4.5 bits.
		return 72, true
	}
	return 0, false
}

// preQuantBits16 approximates a pre-quantized checkpoint's linear weights
// when only the config is known (docs/ENGINES.md §3): GPTQ/AWQ 4-bit with group
// 128 = 0.5 + 2.5/128 B/param (≈ 4.16 bits), fp8 1 B, mxfp4 4.25 bits.
func preQuantBits16(method string) (int, bool) {
	switch method {
	case "gptq", "awq", "marlin":
		return 67, true // 4.156 bits ≈ 66.5/16
	case "fp8", "fbgemm_fp8", "compressed-tensors":
		return 8 * 16, true
	case "mxfp4":
		return 68, true // 4 bits + one E8M0 scale per 32 = 4.25 bits
	case "bitsandbytes":
		return 8 * 16, true
	}
	return 0, false
}

func ceilDiv64(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}

// tensorsQuantized reports whether the tensors already carry packed or
// 8-bit data, so a quant_method needs no approximation.
func tensorsQuantized(ts []Tensor) bool {
	for _, t := range ts {
		if !t.DType.IsFloat() && t.DType.Bits() > 0 && len(t.Shape) >= 2 {
			return true
		}
	}
	return false
}

// LoadedTensors drops tensors of decoder layers at or beyond m.Layers: the
// checkpoint may store extra layers that TGI never loads, such as
// DeepSeek-V3/R1's multi-token-prediction layer model.layers.61 (TGI builds
// num_hidden_layers layers,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_deepseek_v3_modeling.py#L578-L588). It
// returns the kept tensors and how many were dropped. Names must still carry
// their layer numbers (call it before compacting "layers.61" into "layers.*").
func LoadedTensors(ts []Tensor, layers int) ([]Tensor, int64) {
	var dropped int64
	var out []Tensor
	for i, t := range ts {
		if n, ok := layerIndex(t.Name); ok && layers > 0 && n >= layers {
			if out == nil {
				out = append(make([]Tensor, 0, len(ts)), ts[:i]...)
			}
			dropped += t.N()
			continue
		}
		if out != nil {
			out = append(out, t)
		}
	}
	if out == nil {
		return ts, 0
	}
	return out, dropped
}

// mtpLayerBase numbers the layers of a checkpoint's multi-token-prediction
// module when its names carry a part "mtp" or "mtp_*" (Qwen3-Next and
// Qwen3.5 store "mtp.layers.0.*" and "mtp.fc.weight"; MiMo
// "model.mtp_layers.0.*"): layer mtpLayerBase+n, beyond every decoder
// layer, so that the weights of a start without speculative decoding drop
// them as they drop DeepSeek's model.layers.61. vLLM's Qwen3-Next maps
// "mtp." to nothing ("MTP weights are loaded by the draft model, not this
// one", docs/SPECULATIVE.md §1).
const mtpLayerBase = 1 << 20

// layerIndex finds the number after a "layers." (or "h.", "blocks.") path
// part, without allocating, or mtpLayerBase (+n) for a name in an MTP
// module. It hops from dot to dot: it runs for every tensor of every
// estimate.
func layerIndex(name string) (int, bool) {
	afterKey, mtp := false, false
	for rest := name; ; {
		end := strings.IndexByte(rest, '.')
		part := rest
		if end >= 0 {
			part = rest[:end]
		}
		if afterKey {
			if n, ok := digits(part); ok {
				if mtp {
					n += mtpLayerBase
				}
				return n, true
			}
		}
		if part == "mtp" || strings.HasPrefix(part, "mtp_") {
			mtp = true
		}
		afterKey = part == "layers" || part == "h" || part == "blocks" || (mtp && strings.HasPrefix(part, "mtp_"))
		if end < 0 {
			if mtp {
				return mtpLayerBase, true
			}
			return 0, false
		}
		rest = rest[end+1:]
	}
}

// digits parses a non-empty run of decimal digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}

// nameFacts is what the weight computations read from a tensor's name.
type nameFacts struct {
	kind                          shardKind
	bias, scale, kvProj, selfAttn bool
	// layer is the decoder layer the name numbers (mtpLayerBase and up in
	// an MTP module), −1 when it has none.
	layer int
}

func factsOf(name string) nameFacts {
	f := nameFacts{kind: classifyTensor(name), bias: isBias(name), scale: isScale(name),
		kvProj: isKVProj(name), selfAttn: strings.Contains(name, "self_attn"), layer: -1}
	if n, ok := layerIndex(name); ok {
		f.layer = n
	}
	return f
}

// namesMemo holds the facts of the last tensor list an estimate read. The
// facts depend only on the names, and strings are immutable, so the memo
// is checked by comparing the names (equal string headers compare in
// constant time): the many estimates of one model (a plan sweep, a
// calibration fit, a benchmark) parse its names once, and a different list
// only replaces the entry. It keeps Run free of any state a caller could
// observe.
var namesMemo atomic.Pointer[namesEntry]

type namesEntry struct {
	names []string
	facts []nameFacts
}

// tensorFacts returns the facts of every tensor of ts, in order.
func tensorFacts(ts []Tensor) []nameFacts {
	if e := namesMemo.Load(); e != nil && sameNames(e.names, ts) {
		return e.facts
	}
	e := &namesEntry{names: make([]string, len(ts)), facts: make([]nameFacts, len(ts))}
	for i, t := range ts {
		e.names[i], e.facts[i] = t.Name, factsOf(t.Name)
	}
	namesMemo.Store(e)
	return e.facts
}

func sameNames(names []string, ts []Tensor) bool {
	if len(names) != len(ts) {
		return false
	}
	for i := range ts {
		if names[i] != ts[i].Name {
			return false
		}
	}
	return true
}
