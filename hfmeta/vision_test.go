package hfmeta_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// visionConfig parses hfmeta/testdata/vision/<name>.config.json (sources in
// testdata/vision/SOURCES.md).
func visionConfig(t *testing.T, name string) (estimate.Model, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vision", name+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, warnings, err := hfmeta.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return m, warnings
}

// isTower reports whether a derived tensor belongs to the vision tower or
// the multimodal projector.
func isTower(name string) bool {
	for _, p := range []string{"visual.", "model.visual.", "vision_tower.", "vision_model.", "multi_modal_projector."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestVisionTowerMatchesPublishedCounts checks, per family, that the
// language model worked by hand plus the tower and projector derived from
// config.json equal the Hugging Face parameter count (HF API
// safetensors.total, as copied into AlexsJones/llmfit
// llmfit-core/data/hf_models.json @ a3e0eb27c57fe05298292f4c61699b9aed2824ea,
// field parameters_raw). The hand-worked language models equal the
// published counts of the text-only siblings where one exists, which
// cross-checks them. All are BF16 and untied unless noted.
func TestVisionTowerMatchesPublishedCounts(t *testing.T) {
	tests := []struct {
		name      string
		published int64
		textModel int64
	}{
		// Text = Qwen2.5-7B: per layer q 3584²+3584, k/v 2·(512·3584+512), o
		// 3584², MLP 3·18944·3584, norms 2·3584 = 233,057,792 × 28 =
		// 6,525,618,176; embed + lm_head 2·152064·3584 = 1,089,994,752; norm
		// 3584 → 7,615,616,512 (Qwen2.5-7B-Instruct's own count).
		{"Qwen__Qwen2.5-VL-7B-Instruct", 8_292_166_656, 7_615_616_512},
		// Tied: per layer (2048²+2048) + 2·(256·2048+256) + 2048² + 3·11008·2048
		// + 2·2048 = 77,076,992 × 36 = 2,774,771,712; embed 151936·2048 =
		// 311,164,928; norm 2048 → 3,085,938,688 (Qwen2.5-3B-Instruct's count).
		{"Qwen__Qwen2.5-VL-3B-Instruct", 3_754_622_976, 3_085_938_688},
		// Per layer (5120²+5120) + 2·(1024·5120+1024) + 5120² + 3·27648·5120 +
		// 2·5120 = 487,605,248 × 64 = 31,206,735,872; 2·152064·5120 =
		// 1,557,135,360; 5120 → 32,763,876,352 (Qwen2.5-32B's count). The
		// 32B tower's MLP is 3456 wide (vision_config.intermediate_size).
		{"Qwen__Qwen2.5-VL-32B-Instruct", 33_452_718_336, 32_763_876_352},
		// Text = Qwen3-8B: per layer q/o 2·4096·4096, k/v 2·1024·4096, q/k norm
		// 2·128, norms 2·4096 = 41,951,488 + MLP 3·12288·4096 = 150,994,944 →
		// 192,946,432 × 36 = 6,946,071,552; 2·151936·4096 = 1,244,659,712;
		// 4096 → 8,190,735,360 (Qwen3-8B's count).
		{"Qwen__Qwen3-VL-8B-Instruct", 8_767_123_696, 8_190_735_360},
		// Text = Qwen3-235B-A22B: per layer attention q/o 2·8192·4096, k/v
		// 2·512·4096, q/k norm 256, norms 8192 = 71,311,616 + router 128·4096 +
		// experts 128·3·1536·4096 = 2,416,443,392 → 2,487,755,008 × 94 =
		// 233,848,970,752; 1,244,659,712; 4096 → 235,093,634,560
		// (Qwen3-235B-A22B's count).
		{"Qwen__Qwen3-VL-235B-A22B-Instruct", 235_670_022_896, 235_093_634_560},
		// Tied text: 27,009,346,304 (arithmetic in estimate/synth_test.go).
		{"google__gemma-3-27b-it", 27_432_406_640, 27_009_346_304},
		// Text: 48 layers of attention q/o 2·5120², k/v 2·1024·5120, norms
		// 2·5120 = 62,924,800 → 3,020,390,400; 24 MoE layers (interleave step
		// 2) of router 128·5120, experts gate_up 128·5120·16384 and down
		// 128·8192·5120, shared expert 3·8192·5120 = 16,232,611,840 →
		// 389,582,684,160; 24 dense MLPs 3·16384·5120 → 6,039,797,760; embed +
		// lm_head 2·202048·5120 = 2,068,971,520; norm 5120 → 400,711,848,960.
		{"meta-llama__Llama-4-Maverick-17B-128E-Instruct", 401_583_781_376, 400_711_848_960},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := visionConfig(t, tt.name)
			var tower int64
			for _, ts := range estimate.SynthesizeTensors(m) {
				if isTower(ts.Name) {
					tower += ts.Elements() * ts.N()
				}
			}
			if want := tt.published - tt.textModel; tower != want {
				t.Errorf("tower elements = %d, want %d − %d = %d (diff %d)", tower, tt.published, tt.textModel, want, tower-want)
			}
		})
	}
}

// TestVisionTowerParse checks the tower facts read from vision_config,
// with the config class defaults for absent keys.
func TestVisionTowerParse(t *testing.T) {
	tests := []struct {
		name string
		want estimate.VisionTower
	}{
		// vision_config gives only hidden_size 1280 and out_hidden_size 2048
		// (in_chans and spatial_patch_size are legacy keys transformers does
		// not read); the rest are Qwen2_5_VLVisionConfig defaults.
		{"Qwen__Qwen2.5-VL-3B-Instruct", estimate.VisionTower{Kind: estimate.VisionQwen25VL, Depth: 32, Hidden: 1280,
			Intermediate: 3420, Heads: 16, InChannels: 3, PatchSize: 14, TemporalPatch: 2, SpatialMerge: 2, OutHidden: 2048}},
		// Qwen3.5 has no DeepStack mergers (deepstack_visual_indexes is []).
		{"Qwen__Qwen3.5-27B", estimate.VisionTower{Kind: estimate.VisionQwen3VL, Depth: 27, Hidden: 1152, Intermediate: 4304,
			Heads: 16, InChannels: 3, PatchSize: 16, TemporalPatch: 2, SpatialMerge: 2, OutHidden: 5120, PositionEmbeddings: 2304}},
		{"Qwen__Qwen3-VL-8B-Instruct", estimate.VisionTower{Kind: estimate.VisionQwen3VL, Depth: 27, Hidden: 1152, Intermediate: 4304,
			Heads: 16, InChannels: 3, PatchSize: 16, TemporalPatch: 2, SpatialMerge: 2, OutHidden: 4096, PositionEmbeddings: 2304, Deepstack: 3}},
		// vision_use_head false; num_channels absent (3).
		{"google__gemma-3-27b-it", estimate.VisionTower{Kind: estimate.VisionSiglip, Depth: 27, Hidden: 1152, Intermediate: 4304,
			Heads: 16, InChannels: 3, PatchSize: 14, ImageSize: 896}},
		// spatial_merge_size 2, multimodal_projector_bias false and
		// vision_feature_layer -1 sit at the top level.
		{"mistralai__Mistral-Small-3.1-24B-Instruct-2503", estimate.VisionTower{Kind: estimate.VisionPixtral, Depth: 24, Hidden: 1024,
			Intermediate: 4096, Heads: 16, InChannels: 3, PatchSize: 14, ImageSize: 1540, SpatialMerge: 2, FeatureLayers: 1}},
		{"meta-llama__Llama-4-Maverick-17B-128E-Instruct", estimate.VisionTower{Kind: estimate.VisionLlama4, Depth: 34, Hidden: 1408,
			Intermediate: 5632, Heads: 16, InChannels: 3, PatchSize: 14, ImageSize: 336, OutHidden: 4096, ProjectorIn: 4096, ProjectorOut: 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := visionConfig(t, tt.name)
			if m.VisionTower != tt.want {
				t.Errorf("tower\n got %+v\nwant %+v", m.VisionTower, tt.want)
			}
		})
	}
}

// TestVisionTowerNotDerived checks configs whose tower is left out: an
// unknown family, a foreign vision model_type and unreadable sizes.
func TestVisionTowerNotDerived(t *testing.T) {
	const text = `"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"bfloat16"`
	tests := []struct {
		name, json, warning string
	}{
		{"unknown family", `{"model_type":"llava",` + text + `,"vision_config":{"hidden_size":1024}}`, ""},
		{"foreign vision model", `{"model_type":"mistral3","text_config":{` + text + `},"vision_config":{"model_type":"siglip_vision_model"}}`,
			`vision_config model_type "siglip_vision_model"`},
		{"string size", `{"model_type":"qwen2_5_vl",` + text + `,"vision_config":{"depth":"32"}}`, "vision_config depth: want a positive integer"},
		{"huge size", `{"model_type":"llama4","text_config":{` + text + `},"vision_config":{"hidden_size":1e12}}`, "vision_config hidden_size"},
		{"zero size", `{"model_type":"gemma3","text_config":{` + text + `},"vision_config":{"patch_size":0}}`, "vision_config patch_size"},
		{"bad merge size", `{"model_type":"mistral3","spatial_merge_size":-2,"text_config":{` + text + `},"vision_config":{}}`, "vision_config spatial_merge_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, warnings, err := hfmeta.ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if !m.Vision || m.VisionTower.Kind != "" {
				t.Errorf("Vision %v, tower %+v: want a vision model with no tower derived", m.Vision, m.VisionTower)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warning) {
				t.Errorf("no warning containing %q in %q", tt.warning, warnings)
			}
		})
	}
}

// TestVisionGemma3WholeModel checks the whole derived Gemma 3 checkpoint
// (text model + SigLIP tower + projector) against the HF API safetensors
// counts recorded in hfmeta/catalog/index.go, for the catalog's own
// config.json copies: gemma-3-4b-it 4,300,079,472 (tower: 27 layers of
// width 1152 as for 27B, 423,060,336 − 27B projector 6,194,304 + 4B
// projector 1152·2560+1152 = 2,950,272 → 419,816,304) and gemma-3-27b-it
// 27,432,406,640 (text 27,009,346,304 + tower 423,060,336).
func TestVisionGemma3WholeModel(t *testing.T) {
	for _, tt := range []struct {
		dir  string
		want int64
	}{
		{"google__gemma-3-4b-it", 4_300_079_472},
		{"google__gemma-3-27b-it", 27_432_406_640},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("catalog", "models", tt.dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := hfmeta.ParseConfig(b)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, ts := range estimate.SynthesizeTensors(m) {
				n += ts.Elements() * ts.N()
			}
			if n != tt.want {
				t.Errorf("elements = %d, want %d (diff %d)", n, tt.want, n-tt.want)
			}
		})
	}
}
