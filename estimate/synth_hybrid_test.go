package estimate

import "testing"

// repeatKinds returns n copies of pattern's kinds, in order.
func repeatKinds(n int, pattern ...LayerKind) []LayerKind {
	var out []LayerKind
	for range n {
		out = append(out, pattern...)
	}
	return out
}

// Architecture facts of the hybrid families. Qwen3-Next, Qwen3.5-35B-A3B,
// Nemotron-3-Nano and DeepSeek-V3.2 are copied from the public config.json
// copies in hfmeta/testdata/hybrid/ (see its README); Granite-4.0-H-Tiny,
// Jamba-1.5-Mini and Falcon-H1-0.5B-Base from the published configs'
// values quoted in the comments of TestSynthesizeHybridParameterCounts.
var (
	// layer_types: full_attention_interval 4 → every 4th layer full.
	synQwen3Next80B = Model{Type: "qwen3_next", Layers: 48, Hidden: 2048, Heads: 16, KVHeads: 2, HeadDim: 256,
		Intermediate: 5120, Vocab: 151936, DType: BF16, Experts: 512, ExpertsPerToken: 10, MoEIntermediate: 512,
		SharedExpertWidth: 512, SparseStep: 1,
		Kinds: repeatKinds(12, KindLinear, KindLinear, KindLinear, KindFull),
		State: State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}}
	synQwen35_35B = Model{Type: "qwen3_5_moe", Layers: 40, Hidden: 2048, Heads: 16, KVHeads: 2, HeadDim: 256,
		Vocab: 248320, DType: BF16, Experts: 256, ExpertsPerToken: 8, MoEIntermediate: 512,
		SharedExpertWidth: 512, Vision: true,
		Kinds: repeatKinds(10, KindLinear, KindLinear, KindLinear, KindFull),
		State: State{Kind: KindLinear, ConvKernel: 4, KeyHeads: 16, KeyHeadDim: 128, ValueHeads: 32, ValueHeadDim: 128}}
	synNemotron3Nano = Model{Type: "nemotron_h", Layers: 52, Hidden: 2688, Heads: 32, KVHeads: 2, HeadDim: 128,
		Intermediate: 1856, Vocab: 131072, DType: BF16, Experts: 128, ExpertsPerToken: 6, MoEIntermediate: 1856,
		SharedExperts: 1, SharedExpertWidth: 3712, MambaConvBias: true,
		BlockPattern: "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
		State:        State{Kind: KindMamba2, ConvKernel: 4, Inner: 4096, StateSize: 128, Heads: 64, HeadDim: 64, Groups: 8}}
	// layer_types: mamba×5, attention, mamba×9, attention, mamba×9,
	// attention, mamba×9, attention, mamba×4.
	synGraniteHTiny = Model{Type: "granitemoehybrid", Layers: 40, Hidden: 1536, Heads: 12, KVHeads: 4,
		Intermediate: 512, Vocab: 100352, TieWordEmbeddings: true, DType: BF16, Experts: 64, ExpertsPerToken: 6,
		SharedExpertWidth: 1024, MambaConvBias: true,
		Kinds: granitePattern(),
		State: State{Kind: KindMamba2, ConvKernel: 4, Inner: 3072, StateSize: 128, Heads: 48, HeadDim: 64, Groups: 1}}
	// attn_layer_period 8, offset 4; expert_layer_period 2, offset 1.
	synJambaMini15 = Model{Type: "jamba", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
		Intermediate: 14336, Vocab: 65536, DType: BF16, Experts: 16, ExpertsPerToken: 2,
		ExpertPeriod: 2, ExpertOffset: 1, MambaDtRank: 256, MambaConvBias: true,
		Kinds: repeatKinds(4, KindMamba, KindMamba, KindMamba, KindMamba, KindFull, KindMamba, KindMamba, KindMamba),
		State: State{Kind: KindMamba, ConvKernel: 4, Inner: 8192, StateSize: 16}}
	synFalconH1_05B = Model{Type: "falcon_h1", Layers: 36, Hidden: 1024, Heads: 8, KVHeads: 2, HeadDim: 64,
		Intermediate: 2048, Vocab: 32784, DType: BF16, MambaConvBias: true,
		Kinds: repeatKinds(36, KindFull, KindMamba2),
		State: State{Kind: KindMamba2, ConvKernel: 4, Inner: 1536, StateSize: 128, Heads: 24, HeadDim: 64, Groups: 1}}
)

// granitePattern is Granite-4.0-H-Tiny's layer_types.
func granitePattern() []LayerKind {
	var out []LayerKind
	for _, run := range []int{5, 9, 9, 9} {
		out = append(out, repeatKinds(run, KindMamba2)...)
		out = append(out, KindFull)
	}
	return append(out, repeatKinds(4, KindMamba2)...)
}

func TestSynthesizeHybridParameterCounts(t *testing.T) {
	dsv32 := synDeepseekV3
	dsv32.Type, dsv32.IndexHeads, dsv32.IndexHeadDim = "deepseek_v32", 64, 128
	tests := []struct {
		name  string
		model Model
		want  int64
	}{
		// Qwen3-Next-80B-A3B-Instruct: HF API 81,324,862,720 (via llmfit) less
		// its one MTP layer, 1,650,471,424 = fc 2048·4096 + 3 norms·2048 +
		// a full-attention layer (q 8192·2048 + k,v 2·512·2048 + o 2048·4096
		// + q/k norms 2·256 = 27,263,488) + an MoE (router 512·2048 + experts
		// 512·3·512·2048 + shared 3·512·2048 + its gate 2048 = 1,615,859,712)
		// + 2 norms·2048 → 79,674,391,296. The Thinking model has the same
		// config keys; its API figure 79,039,037,440 is below even the main
		// model's and is not used.
		{"Qwen3-Next-80B-A3B", synQwen3Next80B, 79_674_391_296},
		// NVIDIA-Nemotron-3-Nano-30B-A3B-BF16: 31,577,940,288, the sum over
		// the checkpoint's tensors; the HF API total 31,577,937,344 (via
		// llmfit) is 2,944 = 23·128 lower, the size of the 23 MoE blocks'
		// F32 gate.e_score_correction_bias [128], which that count leaves out.
		// Per block: Mamba2 in_proj 2688·(4096+6144+64) + conv 6144·4 + 6144
		// + 3·64 + norm 4096 + out 4096·2688 = 38,772,224 (×23); attention
		// 2688·(4096+2·256) + 4096·2688 = 23,396,352 (×6); MoE router
		// 128·2688 + 128 + experts 128·2·1856·2688 + shared 2·3712·2688
		// = 1,297,416,320 (×23); each + norm 2688; embed and lm_head
		// 2·131072·2688, norm_f 2688.
		{"Nemotron-3-Nano-30B-A3B", synNemotron3Nano, 31_577_940_288},
		// granite-4.0-h-tiny: HF API 6,939,037,248 (via llmfit). Mamba2 layer
		// in_proj 1536·(3072+3328+48) + conv 3328·4 + 3328 + 3·48 + norm 3072
		// + out 3072·1536 = 14,641,296 (×36); attention 1536² + 2·512·1536 +
		// 1536² = 6,291,456 (×4); per layer experts 64·(1024+512)·1536 +
		// router 64·1536 + shared 3·1024·1536 + 2 norms = 155,978,752 (×40);
		// tied embed 100352·1536; norm.
		{"granite-4.0-h-tiny", synGraniteHTiny, 6_939_037_248},
		// AI21-Jamba-Mini-1.5: HF API 51,570,323,328 (via llmfit). Mamba
		// layer (×28): in 16384·4096, conv 8192·4 + 8192, x_proj 288·8192,
		// dt_proj 8192·256 + 8192, A_log 8192·16, D 8192, out 4096·8192,
		// norms 256+16+16; attention (×4) 4096² + 2·1024·4096 + 4096²;
		// MLP 3·14336·4096 (×16 dense, ×16·16 experts + router 16·4096 ×16);
		// 2 norms per layer; embed and lm_head 2·65536·4096; final norm.
		{"AI21-Jamba-Mini-1.5", synJambaMini15, 51_570_323_328},
		// Falcon-H1-0.5B-Base: HF API 521,411,104 (via llmfit). Per layer:
		// attention 1024·512 + 2·1024·128 + 512·1024 = 1,310,720; Mamba2
		// in_proj 1024·(1536+1792+24) + conv 1792·4 + 1792 + 3·24 + out
		// 1536·1024 = 5,014,600 (no gated norm: mamba_rms_norm false); MLP
		// 3·2048·1024; 2 norms → 12,618,184 × 36; embed and lm_head
		// 2·32784·1024; final norm 1024.
		{"Falcon-H1-0.5B-Base", synFalconH1_05B, 521_411_104},
		// DeepSeek-V3.2: HF API 685,396,921,376 (via llmfit) less the MTP
		// layer (DeepSeek-V3's 13,464,128,568 plus its indexer). The indexer
		// adds per layer wq_b 8192·1536 + scales 64·12, wk 128·7168 + scales
		// 1·56, k_norm 2·128, weights_proj 64·7168 = 13,960,248, so
		// 671,067,257,432 (DeepSeek-V3) + 61·13,960,248 = 671,918,832,560 =
		// 685,396,921,376 − (13,464,128,568 + 13,960,248).
		{"DeepSeek-V3.2", dsv32, 671_918_832_560},
		// Kimi-Linear-48B-A3B-Instruct: 49,122,681,728, the sum over the
		// checkpoint's tensors (its catalog source.txt). KDA layer (×20):
		// q/k/v/o 4·4096·2304 + f_a, g_a 2·128·2304 + f_b, g_b 2·4096·128 +
		// b 32·2304 + convs 3·4096·4 + A_log 32 + dt_bias 4096 + o_norm 128
		// = 39,514,272; MLA layer (×7): q 6144·2304 + kv_a 576·2304 + 512 +
		// kv_b 8192·512 + o 2304·4096 = 29,114,880; layer 0's MLP
		// 3·9216·2304 = 63,700,992; MoE (×26): router 256·2304 + 256 +
		// experts 256·3·1024·2304 + shared 3·1024·2304 = 1,819,607,296;
		// 2·27 + 1 norms·2304; embed and lm_head 2·163840·2304.
		{"Kimi-Linear-48B-A3B", kimiLinear48B(), 49_122_681_728},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !layoutDerived(tt.model) {
				t.Fatalf("layoutDerived = false, want true")
			}
			if got, _ := synthElements(SynthesizeTensors(tt.model)); got != tt.want {
				t.Errorf("elements = %d, want %d (off by %d)", got, tt.want, got-tt.want)
			}
		})
	}
}

// TestSynthesizeQwen35Shapes checks Qwen3.5-35B-A3B's language-model tensors
// against Qwen3_5GatedDeltaNet and Qwen3_5Attention (synth_hybrid.go cites
// them), worked by hand: key = 16·128 = 2048, value = 32·128 = 4096;
// in_proj_qkv [2·2048+4096, 2048] = [8192 2048], in_proj_z [4096 2048],
// in_proj_b and in_proj_a [32 2048], conv1d [8192 1 4], all ×30 linear
// layers; q_proj [16·256·2, 2048] = [8192 2048] ×10 full layers; every
// layer MoE with mlp.shared_expert_gate [1 2048] ×40.
func TestSynthesizeQwen35Shapes(t *testing.T) {
	want := map[string]struct {
		shape []int64
		n     int64
	}{
		"model.language_model.layers.*.linear_attn.in_proj_qkv.weight": {[]int64{8192, 2048}, 30},
		"model.language_model.layers.*.linear_attn.in_proj_z.weight":   {[]int64{4096, 2048}, 30},
		"model.language_model.layers.*.linear_attn.in_proj_b.weight":   {[]int64{32, 2048}, 30},
		"model.language_model.layers.*.linear_attn.in_proj_a.weight":   {[]int64{32, 2048}, 30},
		"model.language_model.layers.*.linear_attn.conv1d.weight":      {[]int64{8192, 1, 4}, 30},
		"model.language_model.layers.*.self_attn.q_proj.weight":        {[]int64{8192, 2048}, 10},
		"model.language_model.layers.*.mlp.shared_expert_gate.weight":  {[]int64{1, 2048}, 40},
		"model.language_model.layers.*.mlp.experts.*.down_proj.weight": {[]int64{2048, 512}, 40 * 256},
	}
	found := 0
	for _, ts := range SynthesizeTensors(synQwen35_35B) {
		w, ok := want[ts.Name]
		if !ok {
			continue
		}
		found++
		if len(ts.Shape) != len(w.shape) || ts.N() != w.n {
			t.Errorf("%s = %v ×%d, want %v ×%d", ts.Name, ts.Shape, ts.N(), w.shape, w.n)
			continue
		}
		for i := range w.shape {
			if ts.Shape[i] != w.shape[i] {
				t.Errorf("%s = %v, want %v", ts.Name, ts.Shape, w.shape)
				break
			}
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d expected tensors", found, len(want))
	}
}

func TestLayoutDerivedRefusals(t *testing.T) {
	noShared := synQwen3Next80B
	noShared.SharedExpertWidth = 0
	noPattern := synNemotron3Nano
	noPattern.BlockPattern = ""
	llama4 := Model{Type: "llama4_text", Layers: 48, Hidden: 5120, Heads: 40, Vocab: 202048,
		Kinds: repeatKinds(12, KindChunked, KindChunked, KindChunked, KindFull)}
	for name, m := range map[string]Model{"qwen3_next without shared width": noShared,
		"nemotron_h without pattern": noPattern, "llama4 (not modelled)": llama4} {
		if layoutDerived(m) {
			t.Errorf("%s: layoutDerived = true, want false", name)
		}
	}
}
