package estimate

import (
	"strings"
	"testing"
)

// synthElements returns the element count of ts, in total and per dtype.
func synthElements(ts []Tensor) (int64, map[DType]int64) {
	var total int64
	by := map[DType]int64{}
	for _, t := range ts {
		n := t.Elements() * t.N()
		total += n
		by[t.DType] += n
	}
	return total, by
}

// Architecture facts below are copied from the config.json files under
// shared/models of the vramcalc steering repo (and hfmeta/catalog/models); the expected totals are the
// Hugging Face API safetensors parameter counts recorded in their source.txt.
var (
	synLlama31_8B = Model{Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 128256, DType: BF16}
	synLlama2_7B = Model{Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32,
		Intermediate: 11008, Vocab: 32000, DType: F16}
	synLlama32_1B = Model{Type: "llama", Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, HeadDim: 64,
		Intermediate: 8192, Vocab: 128256, TieWordEmbeddings: true, DType: BF16}
	synMistral7B = Model{Type: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 32000, DType: BF16, SlidingWindow: 4096}
	synQwen25_7B = Model{Type: "qwen2", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4,
		Intermediate: 18944, Vocab: 152064, DType: BF16}
	synQwen3_06B = Model{Type: "qwen3", Layers: 28, Hidden: 1024, Heads: 16, KVHeads: 8, HeadDim: 128,
		Intermediate: 3072, Vocab: 151936, TieWordEmbeddings: true, DType: BF16}
	synQwen3_32B = Model{Type: "qwen3", Layers: 64, Hidden: 5120, Heads: 64, KVHeads: 8, HeadDim: 128,
		Intermediate: 25600, Vocab: 151936, DType: BF16}
	synQwen3_235B = Model{Type: "qwen3_moe", Layers: 94, Hidden: 4096, Heads: 64, KVHeads: 4, HeadDim: 128,
		Intermediate: 12288, Vocab: 151936, DType: BF16, Experts: 128, ExpertsPerToken: 8, MoEIntermediate: 1536}
	synQwen15MoE = Model{Type: "qwen2_moe", Layers: 24, Hidden: 2048, Heads: 16, KVHeads: 16,
		Intermediate: 5632, Vocab: 151936, DType: BF16, Experts: 60, ExpertsPerToken: 4,
		MoEIntermediate: 1408, SharedExperts: 4} // shared_expert_intermediate_size 5632 = 4 × 1408
	synMixtral8x7B = Model{Type: "mixtral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 32000, DType: BF16, Experts: 8, ExpertsPerToken: 2}
	synPhi3Mini = Model{Type: "phi3", Layers: 32, Hidden: 3072, Heads: 32, KVHeads: 32,
		Intermediate: 8192, Vocab: 32064, DType: BF16, SlidingWindow: 2047}
	synPhi2 = Model{Type: "phi", Layers: 32, Hidden: 2560, Heads: 32, KVHeads: 32,
		Intermediate: 10240, Vocab: 51200, DType: F16}
	synGemma2_9B = Model{Type: "gemma2", Layers: 42, Hidden: 3584, Heads: 16, KVHeads: 8, HeadDim: 256,
		Intermediate: 14336, Vocab: 256000, TieWordEmbeddings: true, DType: BF16, SlidingWindow: 4096}
	synGemma3_1B = Model{Type: "gemma3_text", Layers: 26, Hidden: 1152, Heads: 4, KVHeads: 1, HeadDim: 256,
		Intermediate: 6912, Vocab: 262144, TieWordEmbeddings: true, DType: BF16, SlidingWindow: 512}
	synGemma3_27B = Model{Type: "gemma3", Layers: 62, Hidden: 5376, Heads: 32, KVHeads: 16, HeadDim: 128,
		Intermediate: 21504, Vocab: 262208, TieWordEmbeddings: true, DType: BF16, SlidingWindow: 1024, Vision: true}
	synDeepseekV2Lite = Model{Type: "deepseek_v2", Layers: 27, Hidden: 2048, Heads: 16, KVHeads: 16,
		Intermediate: 10944, Vocab: 102400, DType: BF16, Experts: 64, ExpertsPerToken: 6,
		MoEIntermediate: 1408, SharedExperts: 2, DenseLayers: 1,
		KVLoraRank: 512, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128}
	synDeepseekV3 = Model{Type: "deepseek_v3", Layers: 61, Hidden: 7168, Heads: 128, KVHeads: 128,
		Intermediate: 18432, Vocab: 129280, DType: BF16, Experts: 256, ExpertsPerToken: 8,
		MoEIntermediate: 2048, SharedExperts: 1, DenseLayers: 3,
		KVLoraRank: 512, QLoraRank: 1536, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128, QuantMethod: "fp8"}
	synGptOSS20B = Model{Type: "gpt_oss", Layers: 24, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64,
		Intermediate: 2880, Vocab: 201088, Experts: 32, ExpertsPerToken: 4, SlidingWindow: 128, QuantMethod: "mxfp4"}
	synGptOSS120B = Model{Type: "gpt_oss", Layers: 36, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64,
		Intermediate: 2880, Vocab: 201088, Experts: 128, ExpertsPerToken: 4, SlidingWindow: 128, QuantMethod: "mxfp4"}
	synOpt125m = Model{Type: "opt", Layers: 12, Hidden: 768, Heads: 12, Intermediate: 3072,
		Vocab: 50272, MaxPositions: 2048, TieWordEmbeddings: true, DType: F16}
)

func TestSynthesizeTensorsParameterCounts(t *testing.T) {
	tests := []struct {
		name  string
		model Model
		want  int64
	}{
		// embed 128256·4096 = 525,336,576, twice (untied) = 1,050,673,152;
		// per layer q 4096² + k,v 2·1024·4096 + o 4096² = 41,943,040,
		// MLP 3·14336·4096 = 176,160,768, norms 2·4096 → 218,112,000 × 32 = 6,979,584,000;
		// final norm 4096. Total 8,030,261,248 (HF API, BF16).
		{"Llama-3.1-8B", synLlama31_8B, 8_030_261_248},
		// embed 32000·4096 = 131,072,000 ×2; per layer 4·4096² = 67,108,864 +
		// 3·11008·4096 = 135,266,304 + 8192 = 202,383,360 × 32 = 6,476,267,520;
		// + 4096 = 6,738,415,616. The HF API total 6,738,417,664 adds 2,048 F32
		// elements: 32 layers × rotary_emb.inv_freq [64], buffers the engines
		// recompute, which SynthesizeTensors leaves out.
		{"Llama-2-7b-hf (F16 part)", synLlama2_7B, 6_738_417_664 - 2048},
		// tied: embed 128256·2048 = 262,668,288; per layer q 2048² + k,v 2·512·2048 +
		// o 2048² = 10,485,760, MLP 3·8192·2048 = 50,331,648, norms 4096 →
		// 60,821,504 × 16 = 973,144,064; + 2048 = 1,235,814,400 (HF API).
		{"Llama-3.2-1B", synLlama32_1B, 1_235_814_400},
		// Mistral-7B-v0.1: as Llama-3.1-8B with vocab 32000: 8,030,261,248 −
		// 2·(128256−32000)·4096 = 7,241,732,096 (HF API via llmfit).
		{"Mistral-7B-v0.1", synMistral7B, 7_241_732_096},
		// embed 152064·3584 = 544,997,376 ×2; per layer q 3584²+3584, k,v
		// 2·(512·3584+512), o 3584² → 29,364,736; MLP 3·18944·3584 = 203,685,888;
		// norms 7168 → 233,057,792 × 28 = 6,525,618,176; + 3584 = 7,615,616,512.
		{"Qwen2.5-7B-Instruct", synQwen25_7B, 7_615_616_512},
		// tied: embed 151936·1024 = 155,582,464; per layer q 2048·1024 + k,v
		// 2·1024·1024 + o 1024·2048 = 6,291,456, q/k norm 256, MLP 3·3072·1024 =
		// 9,437,184, norms 2048 → 15,730,944 × 28 = 440,466,432; + 1024 =
		// 596,049,920. The HF API count 751,632,384 is 155,582,464 more: the
		// checkpoint stores lm_head.weight [151936, 1024] although
		// tie_word_embeddings is true (tesf777/nano-vllm
		// Qwen3-0.6B/Qwen3-0.6B_weights_info.md lists it among 311 tensors); the
		// catalog adds it as an override.
		{"Qwen3-0.6B", synQwen3_06B, 751_632_384 - 155_582_464},
		// embed 151936·5120 = 777,912,320 ×2; per layer q 8192·5120 ×2 (q,o) +
		// k,v 2·1024·5120 = 94,371,840, q/k norm 256, MLP 3·25600·5120 = 393,216,000,
		// norms 10,240 → 487,598,336 × 64 = 31,206,293,504; + 5120 = 32,762,123,264.
		{"Qwen3-32B", synQwen3_32B, 32_762_123_264},
		// embed 151936·4096 ×2 = 1,244,659,712; per layer attention 2·8192·4096 +
		// 2·512·4096 = 71,303,168, q/k norm 256, norms 8192, router 128·4096 =
		// 524,288, experts 128·3·1536·4096 = 2,415,919,104 → 2,487,755,008 × 94 =
		// 233,848,970,752; + 4096 = 235,093,634,560 (HF API via llmfit).
		{"Qwen3-235B-A22B", synQwen3_235B, 235_093_634_560},
		// embed 151936·2048 ×2 = 622,329,856; per layer qkv 3·(2048²+2048) =
		// 12,589,056, o 4,194,304, norms 4096, router 60·2048 = 122,880, experts
		// 60·3·1408·2048 = 519,045,120, shared 3·5632·2048 = 34,603,008, shared gate
		// 2048 → 570,560,512 × 24 = 13,693,452,288; + 2048 = 14,315,784,192 (llmfit).
		{"Qwen1.5-MoE-A2.7B", synQwen15MoE, 14_315_784_192},
		// embed 32000·4096 ×2 = 262,144,000; per layer attention 41,943,040, norms
		// 8192, router 8·4096, experts 8·3·14336·4096 = 1,409,286,144 →
		// 1,451,270,144 × 32 = 46,440,644,608; + 4096 = 46,702,792,704
		// (Mixtral-8x7B-Instruct-v0.1, HF API via llmfit).
		{"Mixtral-8x7B", synMixtral8x7B, 46_702_792_704},
		// embed 32064·3072 = 98,500,608 ×2; per layer qkv 9216·3072 = 28,311,552,
		// o 9,437,184, gate_up 16384·3072 = 50,331,648, down 25,165,824, norms 6144
		// → 113,252,352 × 32 = 3,624,075,264; + 3072 = 3,821,079,552 (llmfit, keras-hub).
		{"Phi-3-mini-4k-instruct", synPhi3Mini, 3_821_079_552},
		// embed 51200·2560 = 131,072,000; per layer q,k,v,dense 4·(2560²+2560) =
		// 26,224,640, fc1 10240·2560+10240 = 26,224,640, fc2 2560·10240+2560 =
		// 26,216,960, LayerNorm 5120 → 78,671,360 × 32 = 2,517,483,520; final
		// LayerNorm 5120; lm_head 131,072,000 + bias 51,200 → 2,779,683,840 (llmfit).
		{"phi-2", synPhi2, 2_779_683_840},
		// tied: embed 256000·3584 = 917,504,000; per layer q,o 2·4096·3584 + k,v
		// 2·2048·3584 = 44,040,192, MLP 3·14336·3584 = 154,140,672, 4 norms 14,336 →
		// 198,195,200 × 42 = 8,324,198,400; + 3584 = 9,241,705,984 (llmfit).
		{"gemma-2-9b-it", synGemma2_9B, 9_241_705_984},
		// tied: embed 262144·1152 = 301,989,888; per layer q,o 2·1024·1152 + k,v
		// 2·256·1152 = 2,949,120, q/k norm 512, MLP 3·6912·1152 = 23,887,872, 4 norms
		// 4608 → 26,842,112 × 26 = 697,894,912; + 1152 = 999,885,952 (HF API).
		{"gemma-3-1b-it", synGemma3_1B, 999_885_952},
		// Text part only: 27,432,406,640 (llmfit, whole VLM) − SigLIP tower
		// 416,866,032 − projector 1152·5376 + 1152 = 6,194,304 → 27,009,346,304.
		{"gemma-3-27b-it (text)", synGemma3_27B, 27_432_406_640 - 416_866_032 - 6_194_304},
		// embed 102400·2048 ×2 = 419,430,400; per layer MLA q 16·192·2048 =
		// 6,291,456, kv_a 576·2048 = 1,179,648, kv_a norm 512, kv_b 16·256·512 =
		// 2,097,152, o 2048² = 4,194,304, norms 4096 → 13,767,168 × 27 = 371,713,536;
		// layer 0 dense MLP 3·10944·2048 = 67,239,936; 26 MoE layers × (router
		// 64·2048 + experts 64·3·1408·2048 + shared 3·2816·2048 = 571,080,704) =
		// 14,848,098,304; + 2048 = 15,706,484,224 (HF API via llmfit).
		{"DeepSeek-V2-Lite", synDeepseekV2Lite, 15_706_484_224},
		// OPT-125m has no safetensors count on the Hub (pytorch_model.bin only);
		// arithmetic: embed 50272·768 = 38,608,896, positions 2050·768 = 1,574,400,
		// per layer 4·(768²+768) + (3072·768+3072) + (768·3072+768) + 4·768 =
		// 7,087,872 × 12 = 85,054,464, final LayerNorm 1536 → 125,239,296.
		{"opt-125m", synOpt125m, 125_239_296},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := synthElements(SynthesizeTensors(tt.model))
			if got != tt.want {
				t.Errorf("elements = %d, want %d (diff %d)", got, tt.want, got-tt.want)
			}
		})
	}
}

func TestSynthesizeTensorsBytes(t *testing.T) {
	// BF16 checkpoints are 2 bytes per element: Llama-3.1-8B 2·8,030,261,248 =
	// 16,060,522,496 B; Qwen2.5-7B-Instruct 2·7,615,616,512 = 15,231,233,024 B,
	// the total_size of its model.safetensors.index.json.
	for _, tt := range []struct {
		name  string
		model Model
		want  int64
	}{
		{"Llama-3.1-8B", synLlama31_8B, 16_060_522_496},
		{"Qwen2.5-7B-Instruct", synQwen25_7B, 15_231_233_024},
	} {
		var got int64
		for _, ts := range SynthesizeTensors(tt.model) {
			got += ts.Bytes()
		}
		if got != tt.want {
			t.Errorf("%s: bytes = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSynthesizeTensorsFP8(t *testing.T) {
	// Block-wise FP8 checkpoints store every decoder linear weight as F8_E4M3
	// plus an F32 weight_scale_inv [ceil(out/128), ceil(in/128)]; the HF API
	// "total" counts both, so element totals are exact.

	// Qwen3-235B-A22B-FP8: per layer scales q 64·32 + k,v 2·4·32 + o 32·64 +
	// experts 128·(2·12·32 + 32·12) = 4,352 + 147,456 = 151,808 × 94 =
	// 14,269,952 on top of 235,093,634,560 → 235,107,904,512 (HF API via llmfit).
	q := synQwen3_235B
	q.QuantMethod = "fp8"
	got, by := synthElements(SynthesizeTensors(q))
	if want := int64(235_107_904_512); got != want {
		t.Errorf("Qwen3-235B-A22B-FP8 elements = %d, want %d", got, want)
	}
	if want := int64(14_269_952); by[F32] != want {
		t.Errorf("Qwen3-235B-A22B-FP8 F32 scale elements = %d, want %d", by[F32], want)
	}

	// DeepSeek-V3 main model (61 layers): 671,067,257,432 elements including
	// the F32 scales and e_score_correction_bias. The HF total 684,531,386,000
	// also counts the multi-token-prediction layer 61 (13,464,128,568 elements:
	// a full MoE decoder layer with scales, plus embed_tokens, shared_head.head,
	// eh_proj [7168, 14336] in BF16, enorm, hnorm, shared_head.norm), which the
	// config's num_hidden_layers excludes and which the catalog adds as an
	// override.
	got, by = synthElements(SynthesizeTensors(synDeepseekV3))
	if want := int64(671_067_257_432); got != want {
		t.Errorf("DeepSeek-V3 elements = %d, want %d", got, want)
	}
	if by[F8E4M3] == 0 || by[BF16] == 0 || by[F32] == 0 {
		t.Errorf("DeepSeek-V3 dtypes = %v, want F8_E4M3, BF16 and F32", by)
	}
	for _, ts := range SynthesizeTensors(synDeepseekV3) {
		if strings.Contains(ts.Name, "mlp.gate.") && ts.DType == F8E4M3 {
			t.Errorf("router %s is %s, want unquantized", ts.Name, ts.DType)
		}
		if ts.Name == "model.layers.*.self_attn.kv_a_proj_with_mqa.weight_scale_inv" {
			// [576, 7168] → [ceil(576/128), 7168/128] = [5, 56].
			if len(ts.Shape) != 2 || ts.Shape[0] != 5 || ts.Shape[1] != 56 || ts.N() != 61 {
				t.Errorf("%s = %v ×%d, want [5 56] ×61", ts.Name, ts.Shape, ts.N())
			}
		}
	}
}

func TestSynthesizeTensorsMXFP4(t *testing.T) {
	// gpt-oss stores experts as MXFP4: U8 blocks [E, n, k/32, 16] and U8 scales
	// [E, n, k/32]. The HF API splits its count into BF16 and U8, and its U8
	// figure counts each packed byte of *_blocks as two parameters:
	// U8 = 2·blocks + scales. BF16 (attention, sinks, router, expert biases,
	// norms, embeddings, lm_head) is exact.
	for _, tt := range []struct {
		name         string
		model        Model
		bf16, hfU8   int64
		blocks, scal int64
	}{
		// BF16: embed + lm_head 2·201088·2880 = 1,158,266,880; per layer q
		// 4096·2880+4096, k,v 2·(512·2880+512), o 2880·4096+2880, sinks 64, norms
		// 5760, router 32·2880+32, expert biases 32·5760 + 32·2880 → 26,924,576 ×
		// 24 = 646,189,824; + 2880 = 1,804,459,584.
		// Blocks per layer 32·(5760+2880)·90·16 = 398,131,200; scales
		// 32·8640·90 = 24,883,200; HF U8 = 24·(2·398,131,200 + 24,883,200) =
		// 19,707,494,400.
		{"gpt-oss-20b", synGptOSS20B, 1_804_459_584, 19_707_494_400, 24 * 398_131_200, 24 * 24_883_200},
		// 36 layers, 128 experts: BF16 2,167,371,072; U8 118,244,966,400.
		{"gpt-oss-120b", synGptOSS120B, 2_167_371_072, 118_244_966_400, 36 * 4 * 398_131_200, 36 * 4 * 24_883_200},
	} {
		var blocks, scales int64
		ts := SynthesizeTensors(tt.model)
		_, by := synthElements(ts)
		for _, x := range ts {
			switch {
			case strings.HasSuffix(x.Name, "_blocks"):
				blocks += x.Elements() * x.N()
			case strings.HasSuffix(x.Name, "_scales"):
				scales += x.Elements() * x.N()
			}
		}
		if by[BF16] != tt.bf16 {
			t.Errorf("%s: BF16 elements = %d, want %d", tt.name, by[BF16], tt.bf16)
		}
		if blocks != tt.blocks || scales != tt.scal {
			t.Errorf("%s: blocks, scales = %d, %d, want %d, %d", tt.name, blocks, scales, tt.blocks, tt.scal)
		}
		if 2*blocks+scales != tt.hfU8 {
			t.Errorf("%s: 2·blocks + scales = %d, want HF U8 %d", tt.name, 2*blocks+scales, tt.hfU8)
		}
		if by[U8] != blocks+scales {
			t.Errorf("%s: U8 elements = %d, want %d", tt.name, by[U8], blocks+scales)
		}
	}
}

func TestSynthesizeTensorsNames(t *testing.T) {
	names := func(m Model) map[string]Tensor {
		out := map[string]Tensor{}
		for _, ts := range SynthesizeTensors(m) {
			if _, dup := out[ts.Name]; dup {
				t.Errorf("%s: duplicate tensor %s", m.Type, ts.Name)
			}
			out[ts.Name] = ts
		}
		return out
	}
	tests := []struct {
		model   Model
		has     []string
		hasNot  []string
		counted map[string]int64
	}{
		{synLlama31_8B, []string{"model.embed_tokens.weight", "model.layers.*.self_attn.q_proj.weight", "lm_head.weight", "model.norm.weight"},
			[]string{"model.layers.*.self_attn.q_proj.bias"}, map[string]int64{"model.layers.*.mlp.down_proj.weight": 32}},
		{synQwen25_7B, []string{"model.layers.*.self_attn.q_proj.bias", "model.layers.*.self_attn.v_proj.bias"},
			[]string{"model.layers.*.self_attn.o_proj.bias"}, nil},
		{synQwen3_06B, []string{"model.layers.*.self_attn.q_norm.weight", "model.layers.*.self_attn.k_norm.weight"},
			[]string{"lm_head.weight"}, nil},
		{synPhi3Mini, []string{"model.layers.*.self_attn.qkv_proj.weight", "model.layers.*.mlp.gate_up_proj.weight"},
			[]string{"model.layers.*.self_attn.q_proj.weight", "model.layers.*.mlp.gate_proj.weight"}, nil},
		{synPhi2, []string{"model.layers.*.self_attn.dense.bias", "model.layers.*.mlp.fc1.bias", "model.final_layernorm.bias", "lm_head.bias"},
			nil, nil},
		{synOpt125m, []string{"model.decoder.embed_positions.weight", "model.decoder.layers.*.fc1.bias", "model.decoder.final_layer_norm.bias"},
			[]string{"lm_head.weight", "model.decoder.project_in.weight"}, nil},
		{synGemma2_9B, []string{"model.layers.*.pre_feedforward_layernorm.weight", "model.layers.*.post_feedforward_layernorm.weight"},
			[]string{"lm_head.weight"}, nil},
		{synGemma3_27B, []string{"language_model.model.embed_tokens.weight", "language_model.model.layers.*.self_attn.q_norm.weight"},
			[]string{"model.embed_tokens.weight", "language_model.lm_head.weight"}, nil},
		{synMixtral8x7B, []string{"model.layers.*.block_sparse_moe.gate.weight"}, nil,
			map[string]int64{"model.layers.*.block_sparse_moe.experts.*.w1.weight": 32 * 8}},
		{synQwen15MoE, []string{"model.layers.*.mlp.shared_expert.down_proj.weight", "model.layers.*.mlp.shared_expert_gate.weight"}, nil,
			map[string]int64{"model.layers.*.mlp.experts.*.gate_proj.weight": 24 * 60}},
		{synQwen3_235B, []string{"model.layers.*.mlp.gate.weight"}, []string{"model.layers.*.mlp.shared_expert.down_proj.weight"},
			map[string]int64{"model.layers.*.mlp.experts.*.down_proj.weight": 94 * 128}},
		{synDeepseekV3, []string{"model.layers.*.self_attn.q_a_proj.weight", "model.layers.*.self_attn.q_a_layernorm.weight",
			"model.layers.*.self_attn.q_b_proj.weight", "model.layers.*.self_attn.kv_a_layernorm.weight",
			"model.layers.*.mlp.gate.e_score_correction_bias", "model.layers.*.mlp.shared_experts.gate_proj.weight"},
			[]string{"model.layers.*.self_attn.q_proj.weight"},
			map[string]int64{"model.layers.*.mlp.gate_proj.weight": 3, "model.layers.*.mlp.experts.*.up_proj.weight": 58 * 256}},
		{synDeepseekV2Lite, []string{"model.layers.*.self_attn.q_proj.weight", "model.layers.*.self_attn.kv_b_proj.weight"},
			[]string{"model.layers.*.self_attn.q_a_proj.weight", "model.layers.*.mlp.gate.e_score_correction_bias"}, nil},
		{synGptOSS20B, []string{"model.layers.*.self_attn.sinks", "model.layers.*.self_attn.o_proj.bias", "model.layers.*.mlp.router.bias",
			"model.layers.*.mlp.experts.gate_up_proj_blocks", "model.layers.*.mlp.experts.down_proj_bias"},
			[]string{"model.layers.*.mlp.experts.gate_up_proj"}, nil},
	}
	for _, tt := range tests {
		got := names(tt.model)
		for _, n := range tt.has {
			if _, ok := got[n]; !ok {
				t.Errorf("%s: missing %s", tt.model.Type, n)
			}
		}
		for _, n := range tt.hasNot {
			if _, ok := got[n]; ok {
				t.Errorf("%s: unexpected %s", tt.model.Type, n)
			}
		}
		for n, c := range tt.counted {
			if got[n].N() != c {
				t.Errorf("%s: %s count = %d, want %d", tt.model.Type, n, got[n].N(), c)
			}
		}
	}
}

func TestSynthesizeTensorsDType(t *testing.T) {
	// An empty DType (gpt-oss has no torch_dtype) means BF16; otherwise the
	// checkpoint dtype is used for every unquantized tensor.
	m := synLlama31_8B
	m.DType = ""
	for _, ts := range SynthesizeTensors(m) {
		if ts.DType != BF16 {
			t.Fatalf("%s dtype = %s, want BF16", ts.Name, ts.DType)
		}
	}
	for _, ts := range SynthesizeTensors(synLlama2_7B) {
		if ts.DType != F16 {
			t.Fatalf("%s dtype = %s, want F16", ts.Name, ts.DType)
		}
	}
}

func TestSynthesizeTensorsOPTProjection(t *testing.T) {
	// opt-350m: hidden 1024, word_embed_proj_dim 512, ffn 4096, 24 layers,
	// vocab 50272. embed 50272·512 = 25,739,264, positions 2050·1024 =
	// 2,099,200, project_in 1024·512 and project_out 512·1024 = 1,048,576,
	// per layer 4·(1024²+1024) + (4096·1024+4096) + (1024·4096+1024) + 4·1024 =
	// 12,596,224 × 24 = 302,309,376, final LayerNorm 2048 → 331,198,464.
	m := Model{Type: "opt", Layers: 24, Hidden: 1024, Heads: 16, Intermediate: 4096, Vocab: 50272,
		MaxPositions: 2048, TieWordEmbeddings: true, DType: F16}
	s := &synth{m: m, dt: F16}
	s.opt(512)
	got, _ := synthElements(s.out)
	if want := int64(331_198_464); got != want {
		t.Errorf("opt-350m elements = %d, want %d", got, want)
	}
}

func TestSynthesizeTensorsIncomplete(t *testing.T) {
	for _, m := range []Model{{}, {Layers: 1, Hidden: 8, Heads: 1}, {Layers: -1, Hidden: 8, Heads: 1, Vocab: 8}} {
		if ts := SynthesizeTensors(m); ts != nil {
			t.Errorf("SynthesizeTensors(%+v) = %d tensors, want nil", m, len(ts))
		}
	}
	// A model without an MLP width still gets attention, norms and embeddings.
	ts := SynthesizeTensors(Model{Type: "llama", Layers: 2, Hidden: 8, Heads: 2, Vocab: 16})
	for _, x := range ts {
		if strings.Contains(x.Name, "mlp") {
			t.Errorf("unexpected %s with Intermediate 0", x.Name)
		}
	}
}
