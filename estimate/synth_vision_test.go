package estimate

import (
	"strings"
	"testing"
)

// Vision towers as the configs under hfmeta/testdata/vision give them (the
// transformers config class defaults filled in for absent keys).
var (
	visQwen25VL7B = VisionTower{Kind: VisionQwen25VL, Depth: 32, Hidden: 1280, Intermediate: 3420, Heads: 16,
		InChannels: 3, PatchSize: 14, TemporalPatch: 2, SpatialMerge: 2, OutHidden: 3584}
	visQwen3VL8B = VisionTower{Kind: VisionQwen3VL, Depth: 27, Hidden: 1152, Intermediate: 4304, Heads: 16,
		InChannels: 3, PatchSize: 16, TemporalPatch: 2, SpatialMerge: 2, OutHidden: 4096, PositionEmbeddings: 2304, Deepstack: 3}
	visGemma3 = VisionTower{Kind: VisionSiglip, Depth: 27, Hidden: 1152, Intermediate: 4304, Heads: 16,
		InChannels: 3, PatchSize: 14, ImageSize: 896}
	visPixtral = VisionTower{Kind: VisionPixtral, Depth: 24, Hidden: 1024, Intermediate: 4096, Heads: 16,
		InChannels: 3, PatchSize: 14, ImageSize: 1540, SpatialMerge: 2, FeatureLayers: 1}
	visLlama4 = VisionTower{Kind: VisionLlama4, Depth: 34, Hidden: 1408, Intermediate: 5632, Heads: 16,
		InChannels: 3, PatchSize: 14, ImageSize: 336, OutHidden: 4096, ProjectorIn: 4096, ProjectorOut: 4096}
)

// towerOnly returns the element count of the tensors SynthesizeTensors adds
// for m's tower: the total with the tower minus the total without it.
func towerOnly(m Model) int64 {
	with, _ := synthElements(SynthesizeTensors(m))
	m.VisionTower = VisionTower{}
	without, _ := synthElements(SynthesizeTensors(m))
	return with - without
}

// TestVisionTowerElements checks each family's tower and projector against
// its module shapes worked by hand from transformers' modeling code (the
// files cited in synth_vision.go). The whole-model totals against the
// published parameter counts are in hfmeta/vision_test.go.
func TestVisionTowerElements(t *testing.T) {
	text := Model{Type: "llama", Layers: 1, Hidden: 64, Heads: 1, Intermediate: 64, Vocab: 64, DType: BF16, Vision: true}
	with := func(hidden int, v VisionTower) Model { m := text; m.Hidden, m.VisionTower = hidden, v; return m }
	qwen35 := visQwen3VL8B
	qwen35.OutHidden, qwen35.Deepstack = 5120, 0
	pixtralBias := visPixtral
	pixtralBias.ProjectorBias = true
	withHead := visGemma3
	withHead.PoolingHead = true
	tests := []struct {
		name  string
		model Model
		want  int64
	}{
		// Qwen2.5-VL-7B: patch 1280·3·2·14·14 = 1,505,280; per block norms
		// 2·1280, qkv 3840·1280+3840, proj 1280²+1280, gate/up 2·(3420·1280+3420),
		// down 1280·3420+1280 = 19,702,200 × 32 = 630,470,400; merger ln_q 1280,
		// mlp.0 5120²+5120, mlp.2 3584·5120+3584 = 44,574,464 → 676,550,144.
		{"qwen2_5_vl 7B", with(3584, visQwen25VL7B), 676_550_144},
		// Qwen3-VL-8B: patch 1152·3·2·16·16+1152 = 1,770,624; pos_embed
		// 2304·1152 = 2,654,208; per block LayerNorms 4·1152, qkv 3456·1152+3456,
		// proj 1152²+1152, fc1 4304·1152+4304, fc2 1152·4304+1152 = 15,239,504 ×
		// 27 = 411,466,608; merger 2·1152 + 4608²+4608 + 4096·4608+4096 =
		// 40,119,040; 3 DeepStack mergers 3·(2·4608 + 4608²+4608 +
		// 4096·4608+4096) = 120,377,856 → 576,388,336.
		{"qwen3_vl 8B", with(4096, visQwen3VL8B), 576_388_336},
		// Qwen3.5-27B (out_hidden_size 5120, no DeepStack): 1,770,624 +
		// 2,654,208 + 411,466,608 + merger 2·1152 + 4608²+4608 + 5120·4608+5120
		// = 44,838,656 → 460,730,096.
		{"qwen3_5 27B", with(5120, qwen35), 460_730_096},
		// gemma-3-27b-it: patch 1152·3·14·14+1152, positions (896/14)²·1152 =
		// 4096·1152 → 5,397,120; per layer LayerNorms 4·1152, q/k/v/out
		// 4·(1152²+1152), fc1 4304·1152+4304, fc2 1152·4304+1152 = 15,239,504 ×
		// 27 = 411,466,608; post_layernorm 2304; projector 1152·5376 + 1152 =
		// 6,194,304 → 423,060,336.
		{"siglip gemma-3-27b", with(5376, visGemma3), 423_060_336},
		// The same with SigLIP's pooling head: probe 1152, in_proj 3·1152²+3·1152,
		// out_proj 1152²+1152, LayerNorm 2·1152, MLP 4304·1152+4304 +
		// 1152·4304+1152 = 15,238,352 more → 438,298,688.
		{"siglip with head", with(5376, withHead), 438_298_688},
		// Mistral-Small-3.1: patch_conv 1024·3·14·14 = 602,112, ln_pre 1024;
		// per layer norms 2·1024, q/k/v/o 4·1024², MLP 3·4096·1024 = 16,779,264
		// × 24 = 402,702,336; projector norm 1024, merging_layer 1024·4096,
		// linear_1 5120·1024, linear_2 5120² = 35,652,608 → 438,958,080.
		{"pixtral Mistral-Small-3.1", with(5120, visPixtral), 438_958_080},
		// With multimodal_projector_bias: + 5120 + 5120 → 438,968,320.
		{"pixtral projector bias", with(5120, pixtralBias), 438_968_320},
		// Llama-4 Maverick: patch linear 1408·3·14·14 = 827,904, class 1408,
		// positions ((336/14)²+1)·1408 = 577·1408 = 812,416, pre/post LayerNorms
		// 4·1408 → 1,647,360; per layer q/k/v/o 4·(1408²+1408), fc1
		// 5632·1408+5632, fc2 1408·5632+1408, LayerNorms 4·1408 = 23,807,872 × 34
		// = 809,467,648; adapter fc1 4096·5632 + fc2 4096² = 39,845,888;
		// projector 5120·4096 = 20,971,520 → 871,932,416.
		{"llama4 Maverick", with(5120, visLlama4), 871_932_416},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := towerOnly(tt.model); got != tt.want {
				t.Errorf("tower elements = %d, want %d (diff %d)", got, tt.want, got-tt.want)
			}
		})
	}
}

// TestVisionTowerNames checks a few checkpoint names and shapes per family
// (the names of the Hugging Face safetensors of each model).
func TestVisionTowerNames(t *testing.T) {
	text := Model{Type: "llama", Layers: 1, Hidden: 4096, Heads: 1, Intermediate: 64, Vocab: 64, DType: BF16, Vision: true}
	tests := []struct {
		tower VisionTower
		name  string
		shape []int64
		count int64
	}{
		{visQwen25VL7B, "visual.patch_embed.proj.weight", []int64{1280, 3, 2, 14, 14}, 0},
		{visQwen25VL7B, "visual.blocks.*.attn.qkv.bias", []int64{3840}, 32},
		{visQwen25VL7B, "visual.merger.mlp.2.weight", []int64{3584, 5120}, 0},
		{visQwen3VL8B, "model.visual.pos_embed.weight", []int64{2304, 1152}, 0},
		{visQwen3VL8B, "model.visual.deepstack_merger_list.*.norm.weight", []int64{4608}, 3},
		{visGemma3, "vision_tower.vision_model.embeddings.position_embedding.weight", []int64{4096, 1152}, 0},
		{visGemma3, "multi_modal_projector.mm_input_projection_weight", []int64{1152, 4096}, 0},
		{visPixtral, "multi_modal_projector.patch_merger.merging_layer.weight", []int64{1024, 4096}, 0},
		{visPixtral, "vision_tower.transformer.layers.*.feed_forward.gate_proj.weight", []int64{4096, 1024}, 24},
		{visLlama4, "vision_model.positional_embedding_vlm", []int64{577, 1408}, 0},
		{visLlama4, "vision_model.vision_adapter.mlp.fc1.weight", []int64{4096, 5632}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := text
			m.VisionTower = tt.tower
			for _, ts := range SynthesizeTensors(m) {
				if ts.Name != tt.name {
					continue
				}
				if ts.DType != BF16 || ts.Count != tt.count || len(ts.Shape) != len(tt.shape) {
					t.Fatalf("got %+v, want shape %v count %d BF16", ts, tt.shape, tt.count)
				}
				for i := range ts.Shape {
					if ts.Shape[i] != tt.shape[i] {
						t.Fatalf("shape %v, want %v", ts.Shape, tt.shape)
					}
				}
				return
			}
			t.Errorf("no tensor %s", tt.name)
		})
	}
}

// TestTowerDerived checks when the tower counts as derived exactly.
func TestTowerDerived(t *testing.T) {
	base := Model{Type: "qwen3_vl", Layers: 1, Hidden: 4096, Heads: 1, Vocab: 64, Vision: true, VisionTower: visQwen3VL8B}
	noPos := visQwen3VL8B
	noPos.PositionEmbeddings = 0
	tests := []struct {
		name string
		edit func(m *Model)
		want bool
	}{
		{"qwen3_vl", func(*Model) {}, true},
		{"no vision_config", func(m *Model) { m.Vision = false }, false},
		{"unknown family", func(m *Model) { m.VisionTower = VisionTower{Depth: 1, Hidden: 8, PatchSize: 2, InChannels: 3} }, false},
		{"quantized checkpoint", func(m *Model) { m.QuantMethod = "fp8" }, false},
		{"qwen3_vl without position table", func(m *Model) { m.VisionTower = noPos }, false},
		{"siglip", func(m *Model) { m.VisionTower = visGemma3 }, true},
		{"siglip image smaller than a patch", func(m *Model) { m.VisionTower = visGemma3; m.VisionTower.ImageSize = 8 }, false},
		{"pixtral", func(m *Model) { m.VisionTower = visPixtral }, true},
		{"llama4", func(m *Model) { m.VisionTower = visLlama4 }, true},
		{"qwen2_5_vl", func(m *Model) { m.VisionTower = visQwen25VL7B }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base
			tt.edit(&m)
			if got := towerDerived(m); got != tt.want {
				t.Errorf("towerDerived = %v, want %v", got, tt.want)
			}
			if !tt.want {
				for _, ts := range SynthesizeTensors(m) {
					if strings.Contains(ts.Name, "visual") || strings.HasPrefix(ts.Name, "vision") {
						t.Fatalf("underived tower still adds %s", ts.Name)
					}
				}
			}
		})
	}
}
