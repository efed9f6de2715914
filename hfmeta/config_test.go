package hfmeta_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// cfgCatalog returns the embedded config.json of a catalog model (public
// copies of the Hub files; provenance in each entry's source.txt).
func cfgCatalog(t *testing.T, id string) []byte {
	t.Helper()
	e, ok := catalog.Lookup(id)
	if !ok {
		t.Fatalf("catalog has no %s", id)
	}
	return e.Config
}

func cfgHasWarning(ws []string, substr string) bool {
	for _, w := range ws {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

// TestParseConfigRealConfigs parses real config.json copies and checks every
// fact against the file's own values.
func TestParseConfigRealConfigs(t *testing.T) {
	gptOSSLayers := slices.Repeat([]string{"sliding_attention", "full_attention"}, 12)
	tests := []struct {
		id       string
		want     estimate.Model
		warnings []string // substrings that must appear
	}{
		// head_dim absent: HeadSize() = 4096/32 = 128.
		{"meta-llama/Llama-3.1-8B-Instruct", estimate.Model{Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
			Intermediate: 14336, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16,
			Rope: estimate.RopeScaling{Type: "llama3", Factor: 8, OriginalMax: 8192}}, nil},
		{"meta-llama/Llama-2-7b-hf", estimate.Model{Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 32,
			Intermediate: 11008, Vocab: 32000, MaxPositions: 4096, DType: estimate.F16}, nil},
		// sliding_window 131072 is kept as written although
		// use_sliding_window is false: TGI reads the raw key.
		{"Qwen/Qwen2.5-7B-Instruct", estimate.Model{Type: "qwen2", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4,
			Intermediate: 18944, Vocab: 152064, MaxPositions: 32768, DType: estimate.BF16, SlidingWindow: 131072}, nil},
		// head_dim 128 explicit although 1024/16 = 64; tied embeddings.
		{"Qwen/Qwen3-0.6B", estimate.Model{Type: "qwen3", Layers: 28, Hidden: 1024, Heads: 16, KVHeads: 8, HeadDim: 128,
			Intermediate: 3072, Vocab: 151936, MaxPositions: 40960, TieWordEmbeddings: true, DType: estimate.BF16}, nil},
		{"mistralai/Mistral-7B-v0.1", estimate.Model{Type: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
			Intermediate: 14336, Vocab: 32000, MaxPositions: 32768, DType: estimate.BF16, SlidingWindow: 4096}, nil},
		{"mistralai/Mixtral-8x7B-v0.1", estimate.Model{Type: "mixtral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8,
			Intermediate: 14336, Vocab: 32000, MaxPositions: 32768, DType: estimate.BF16, Experts: 8, ExpertsPerToken: 2}, nil},
		{"Qwen/Qwen3-235B-A22B-FP8", estimate.Model{Type: "qwen3_moe", Layers: 94, Hidden: 4096, Heads: 64, KVHeads: 4, HeadDim: 128,
			Intermediate: 12288, Vocab: 151936, MaxPositions: 40960, DType: estimate.BF16,
			Experts: 128, ExpertsPerToken: 8, MoEIntermediate: 1536, QuantMethod: "fp8"}, nil},
		// Shared expert 5632 = 4 × moe_intermediate_size 1408.
		{"Qwen/Qwen1.5-MoE-A2.7B", estimate.Model{Type: "qwen2_moe", Layers: 24, Hidden: 2048, Heads: 16, KVHeads: 16,
			Intermediate: 5632, Vocab: 151936, MaxPositions: 32768, DType: estimate.BF16,
			Experts: 60, ExpertsPerToken: 4, MoEIntermediate: 1408, SharedExperts: 4, SlidingWindow: 32768}, nil},
		{"deepseek-ai/DeepSeek-V3", estimate.Model{Type: "deepseek_v3", Layers: 61, Hidden: 7168, Heads: 128, KVHeads: 128,
			Intermediate: 18432, Vocab: 129280, MaxPositions: 163840, DType: estimate.BF16, Rope: estimate.RopeScaling{Type: "yarn", Factor: 40, OriginalMax: 4096},
			Experts: 256, ExpertsPerToken: 8, MoEIntermediate: 2048, SharedExperts: 1, DenseLayers: 3,
			KVLoraRank: 512, QLoraRank: 1536, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128, QuantMethod: "fp8", MTPLayers: 1}, nil},
		// q_lora_rank is null in DeepSeek-V2-Lite.
		{"deepseek-ai/DeepSeek-V2-Lite", estimate.Model{Type: "deepseek_v2", Layers: 27, Hidden: 2048, Heads: 16, KVHeads: 16,
			Intermediate: 10944, Vocab: 102400, MaxPositions: 163840, DType: estimate.BF16, Rope: estimate.RopeScaling{Type: "yarn", Factor: 40, OriginalMax: 4096},
			Experts: 64, ExpertsPerToken: 6, MoEIntermediate: 1408, SharedExperts: 2, DenseLayers: 1,
			KVLoraRank: 512, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128}, nil},
		// No torch_dtype; experts_per_token and num_experts_per_tok both 4.
		{"openai/gpt-oss-20b", estimate.Model{Type: "gpt_oss", Layers: 24, Hidden: 2880, Heads: 64, KVHeads: 8, HeadDim: 64,
			Intermediate: 2880, Vocab: 201088, MaxPositions: 131072, Experts: 32, ExpertsPerToken: 4, Rope: estimate.RopeScaling{Type: "yarn", Factor: 32, OriginalMax: 4096},
			SlidingWindow: 128, LayerTypes: gptOSSLayers, QuantMethod: "mxfp4"},
			[]string{"no torch_dtype"}},
		// Gemma 3 VLM: text facts from text_config; vocab_size and
		// max_position_embeddings from the Gemma3TextConfig defaults.
		{"google/gemma-3-27b-it", estimate.Model{Type: "gemma3", Layers: 62, Hidden: 5376, Heads: 32, KVHeads: 16, HeadDim: 128,
			Intermediate: 21504, Vocab: 262208, MaxPositions: 131072, TieWordEmbeddings: true, DType: estimate.BF16, Rope: estimate.RopeScaling{Type: "linear", Factor: 8},
			SlidingWindow: 1024, Vision: true, LayerTypes: gemmaPattern(62, 6),
			VisionTower: estimate.VisionTower{Kind: estimate.VisionSiglip, Depth: 27, Hidden: 1152, Intermediate: 4304, Heads: 16, InChannels: 3, PatchSize: 14, ImageSize: 896}},
			[]string{"Gemma3TextConfig defaults", "vocab_size=262208", "max_position_embeddings=131072"}},
		{"google/gemma-3-1b-it", estimate.Model{Type: "gemma3_text", Layers: 26, Hidden: 1152, Heads: 4, KVHeads: 1, HeadDim: 256,
			Intermediate: 6912, Vocab: 262144, MaxPositions: 32768, TieWordEmbeddings: true, DType: estimate.BF16, SlidingWindow: 512, LayerTypes: gemmaPattern(26, 6)}, nil},
		// Gemma 2: no layer_types, sliding_window kept; tie_word_embeddings
		// absent means Gemma2Config's true.
		{"google/gemma-2-9b-it", estimate.Model{Type: "gemma2", Layers: 42, Hidden: 3584, Heads: 16, KVHeads: 8, HeadDim: 256,
			Intermediate: 14336, Vocab: 256000, MaxPositions: 8192, TieWordEmbeddings: true, DType: estimate.BF16, SlidingWindow: 4096, LayerTypes: gemmaPattern(42, 2)}, nil},
		{"google/gemma-2b-it", estimate.Model{Type: "gemma", Layers: 18, Hidden: 2048, Heads: 8, KVHeads: 1, HeadDim: 256,
			Intermediate: 16384, Vocab: 256000, MaxPositions: 8192, TieWordEmbeddings: true}, []string{"no torch_dtype"}},
		// OPT: ffn_dim, no num_key_value_heads (MHA), tied by default.
		{"facebook/opt-125m", estimate.Model{Type: "opt", Layers: 12, Hidden: 768, Heads: 12,
			Intermediate: 3072, Vocab: 50272, MaxPositions: 2048, TieWordEmbeddings: true, DType: estimate.F16}, nil},
		{"microsoft/phi-2", estimate.Model{Type: "phi", Layers: 32, Hidden: 2560, Heads: 32, KVHeads: 32,
			Intermediate: 10240, Vocab: 51200, MaxPositions: 2048, DType: estimate.F16}, nil},
		{"microsoft/Phi-3-mini-4k-instruct", estimate.Model{Type: "phi3", Layers: 32, Hidden: 3072, Heads: 32, KVHeads: 32,
			Intermediate: 8192, Vocab: 32064, MaxPositions: 4096, DType: estimate.BF16, SlidingWindow: 2047}, nil},
		// Mistral-Small 3.x is a mistral3 VLM with the facts in text_config.
		{"mistralai/Mistral-Small-3.2-24B-Instruct-2506", estimate.Model{Type: "mistral3", Layers: 40, Hidden: 5120, Heads: 32, KVHeads: 8,
			HeadDim: 128, Intermediate: 32768, Vocab: 131072, MaxPositions: 131072, DType: estimate.BF16, Vision: true,
			VisionTower: estimate.VisionTower{Kind: estimate.VisionPixtral, Depth: 24, Hidden: 1024, Intermediate: 4096, Heads: 16, InChannels: 3, PatchSize: 14, ImageSize: 1540, SpatialMerge: 2, FeatureLayers: 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, warnings, err := hfmeta.ParseConfig(cfgCatalog(t, tt.id))
			if err != nil {
				t.Fatal(err)
			}
			if gotS, wantS := cfgModelString(got), cfgModelString(tt.want); gotS != wantS {
				t.Errorf("model\n got %s\nwant %s", gotS, wantS)
			}
			for _, w := range tt.warnings {
				if !cfgHasWarning(warnings, w) {
					t.Errorf("no warning containing %q in %q", w, warnings)
				}
			}
			if len(tt.warnings) == 0 && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

// cfgModelString prints a Model for comparison; LayerTypes nil and empty
// print the same.
func cfgModelString(m estimate.Model) string {
	m.Tensors = nil
	return fmt.Sprintf("%+v", m)
}

func TestParseConfigInline(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		want     estimate.Model
		warnings []string
	}{
		{"falcon multi_query and alternative keys",
			`{"model_type":"falcon","n_layer":32,"hidden_size":4544,"n_head":71,"multi_query":true,"vocab_size":65024,"torch_dtype":"bfloat16"}`,
			// FalconConfig: ffn_hidden_size absent = 4·4544 = 18176; tied by default.
			estimate.Model{Type: "falcon", Layers: 32, Hidden: 4544, Heads: 71, KVHeads: 1, Intermediate: 18176, Vocab: 65024,
				TieWordEmbeddings: true, DType: estimate.BF16}, nil},
		{"falcon-40b new decoder keys",
			`{"model_type":"falcon","num_hidden_layers":60,"hidden_size":8192,"num_attention_heads":128,"num_kv_heads":8,"new_decoder_architecture":true,"vocab_size":65024}`,
			estimate.Model{Type: "falcon", Layers: 60, Hidden: 8192, Heads: 128, KVHeads: 8, Intermediate: 32768, Vocab: 65024,
				TieWordEmbeddings: true}, []string{"no torch_dtype"}},
		{"gpt2 keys",
			`{"model_type":"gpt2","n_layer":12,"n_embd":768,"n_head":12,"n_positions":1024,"n_inner":null,"vocab_size":50257,"torch_dtype":"float32"}`,
			estimate.Model{Type: "gpt2", Layers: 12, Hidden: 768, Heads: 12, Intermediate: 3072, Vocab: 50257, MaxPositions: 1024,
				TieWordEmbeddings: true, DType: estimate.F32}, nil},
		{"unknown type uses standard keys and the PretrainedConfig tie default",
			`{"model_type":"foo","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"intermediate_size":128,"torch_dtype":"float16"}`,
			estimate.Model{Type: "foo", Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 100, TieWordEmbeddings: true, DType: estimate.F16,
				Unmodelled: []string{`model_type "foo": the standard keys are read, and any layer kind of its own is missed`}},
			[]string{`unknown model_type "foo": using the standard keys`}},
		{"transformers v5 dtype key and integral floats",
			`{"model_type":"llama","num_hidden_layers":2.0,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"dtype":"bfloat16"}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.BF16}, nil},
		{"unknown dtype is a warning",
			`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float8_xyz"}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100}, []string{`torch_dtype "float8_xyz" is not a known dtype`}},
		{"gptq checkpoint",
			`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float16","quantization_config":{"quant_method":"gptq","bits":4}}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.F16, QuantMethod: "gptq"},
			[]string{`quant_method "gptq": tensors derived from the config are unquantized`}},
		{"gptq act-order checkpoint",
			`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float16","quantization_config":{"quant_method":"gptq","bits":4,"group_size":128,"desc_act":true}}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.F16, QuantMethod: "gptq", QuantActOrder: true},
			[]string{`quant_method "gptq": tensors derived from the config are unquantized`}},
		{"awq ignores desc_act",
			`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float16","quantization_config":{"quant_method":"awq","bits":4,"desc_act":true}}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.F16, QuantMethod: "awq"},
			[]string{`quant_method "awq": tensors derived from the config are unquantized`}},
		{"quantization_config without quant_method",
			`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"float16","quantization_config":{"bits":4,"group_size":128}}`,
			estimate.Model{Type: "llama", Layers: 2, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.F16},
			[]string{"quantization_config has no quant_method (keys: bits, group_size)"}},
		{"layer_types length mismatch",
			`{"model_type":"gpt_oss","num_hidden_layers":3,"hidden_size":64,"num_attention_heads":4,"vocab_size":100,"torch_dtype":"bfloat16","layer_types":["sliding_attention","full_attention"]}`,
			estimate.Model{Type: "gpt_oss", Layers: 3, Hidden: 64, Heads: 4, Vocab: 100, DType: estimate.BF16,
				LayerTypes: []string{"sliding_attention", "full_attention"}},
			[]string{"layer_types has 2 entries for 3 layers"}},
		{"gemma3 text config without keys gets the class defaults",
			`{"model_type":"gemma3","text_config":{"model_type":"gemma3_text"},"vision_config":{},"torch_dtype":"bfloat16"}`,
			// Gemma3TextConfig(): 26 layers, 2304 hidden, 8 heads, 4 KV heads,
			// head_dim 256, 9216 MLP, vocab 262208, 131072 positions, window 4096.
			estimate.Model{Type: "gemma3", Layers: 26, Hidden: 2304, Heads: 8, KVHeads: 4, HeadDim: 256, Intermediate: 9216,
				Vocab: 262208, MaxPositions: 131072, TieWordEmbeddings: true, DType: estimate.BF16, SlidingWindow: 4096, Vision: true,
				LayerTypes:  gemmaPattern(26, 6),
				VisionTower: estimate.VisionTower{Kind: estimate.VisionSiglip, Depth: 12, Hidden: 768, Intermediate: 3072, Heads: 12, InChannels: 3, PatchSize: 16, ImageSize: 224, PoolingHead: true}},
			[]string{"using the transformers Gemma3TextConfig defaults"}},
		{"opt with a narrower word embedding",
			`{"model_type":"opt","num_hidden_layers":24,"hidden_size":1024,"num_attention_heads":16,"ffn_dim":4096,"vocab_size":50272,"word_embed_proj_dim":512,"max_position_embeddings":2048,"torch_dtype":"float16"}`,
			estimate.Model{Type: "opt", Layers: 24, Hidden: 1024, Heads: 16, Intermediate: 4096, Vocab: 50272, MaxPositions: 2048,
				TieWordEmbeddings: true, DType: estimate.F16},
			[]string{"word_embed_proj_dim 512 differs from hidden_size 1024"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := hfmeta.ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if gotS, wantS := cfgModelString(got), cfgModelString(tt.want); gotS != wantS {
				t.Errorf("model\n got %s\nwant %s", gotS, wantS)
			}
			for _, w := range tt.warnings {
				if !cfgHasWarning(warnings, w) {
					t.Errorf("no warning containing %q in %q", w, warnings)
				}
			}
			if len(tt.warnings) == 0 && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		sentinel error
		msg      string // exact error text when not empty
		contains string
	}{
		{"empty object", `{}`, hfmeta.ErrMissingKeys,
			"hfmeta: config: missing keys num_hidden_layers, hidden_size, num_attention_heads, vocab_size", ""},
		{"two missing", `{"model_type":"llama","hidden_size":4096,"num_attention_heads":32}`, hfmeta.ErrMissingKeys,
			"hfmeta: config: missing keys num_hidden_layers, vocab_size", ""},
		{"null required key", `{"num_hidden_layers":null,"hidden_size":8,"num_attention_heads":1,"vocab_size":8}`, hfmeta.ErrMissingKeys,
			"hfmeta: config: missing keys num_hidden_layers", ""},
		{"truncated JSON", `{"model_type": "llama", "hidden_size":`, hfmeta.ErrBadConfig, "", "unexpected EOF"},
		{"not an object", `[1, 2]`, hfmeta.ErrBadConfig, "", "cannot unmarshal array"},
		{"null", `null`, hfmeta.ErrBadConfig, "", "top level is null"},
		{"trailing data", `{} {}`, hfmeta.ErrBadConfig, "", "trailing data"},
		{"empty input", ``, hfmeta.ErrBadConfig, "", "EOF"},
		{"zero layers", `{"num_hidden_layers":0,"hidden_size":8,"num_attention_heads":1,"vocab_size":8}`, nil,
			"hfmeta: config: num_hidden_layers is 0, want > 0", ""},
		{"negative hidden", `{"num_hidden_layers":2,"hidden_size":-8,"num_attention_heads":1,"vocab_size":8}`, nil,
			"hfmeta: config: hidden_size is -8, want > 0", ""},
		{"negative head_dim", `{"num_hidden_layers":2,"hidden_size":8,"num_attention_heads":1,"vocab_size":8,"head_dim":-1}`, nil,
			"hfmeta: config: head_dim is -1, want >= 0", ""},
		{"string size", `{"num_hidden_layers":2,"hidden_size":"4096","num_attention_heads":1,"vocab_size":8}`, nil,
			"hfmeta: config: hidden_size: want an integer, got a string", ""},
		{"fractional size", `{"num_hidden_layers":2.5,"hidden_size":8,"num_attention_heads":1,"vocab_size":8}`, nil,
			"hfmeta: config: num_hidden_layers: want an integer, got 2.5", ""},
		{"huge size", `{"num_hidden_layers":2,"hidden_size":8,"num_attention_heads":1,"vocab_size":99999999999}`, estimate.ErrImplausible,
			"hfmeta: config: implausible input: vocab_size 99999999999 is beyond 16777216", ""},
		// The keys as written (n_layer, not num_hidden_layers), each with its limit:
		// 2^11 layers, 2^18 hidden, 2^14 heads, 2^16 experts, 2^30 positions.
		{"sizes near 2^31", `{"n_layer":2147483000,"hidden_size":2147483000,"num_attention_heads":2147483000,"vocab_size":8,"num_experts":2147483000,"max_position_embeddings":2147483000}`, estimate.ErrImplausible,
			"hfmeta: config: implausible input: n_layer 2147483000 is beyond 2048; hidden_size 2147483000 is beyond 262144; num_attention_heads 2147483000 is beyond 16384; max_position_embeddings 2147483000 is beyond 1073741824; num_experts 2147483000 is beyond 65536", ""},
		{"shared expert", `{"model_type":"qwen2_moe","num_hidden_layers":2,"hidden_size":8,"num_attention_heads":1,"vocab_size":8,"moe_intermediate_size":8,"shared_expert_intermediate_size":1048577}`, estimate.ErrImplausible,
			"hfmeta: config: implausible input: shared_expert_intermediate_size 1048577 is beyond 1048576", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := hfmeta.ParseConfig([]byte(tt.json))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tt.sentinel)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("error = %q, want %q", err, tt.msg)
			}
			if tt.contains != "" && !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error = %q, want it to contain %q", err, tt.contains)
			}
			if !strings.HasPrefix(err.Error(), "hfmeta: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestParseConfigFeedsSynthesizeTensors checks the parsed facts reproduce the
// Hugging Face parameter count of a real config end to end: Llama-3.1-8B has
// 8,030,261,248 BF16 parameters (arithmetic in estimate/synth_test.go).
func TestParseConfigFeedsSynthesizeTensors(t *testing.T) {
	m, _, err := hfmeta.ParseConfig(cfgCatalog(t, "meta-llama/Llama-3.1-8B-Instruct"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, ts := range estimate.SynthesizeTensors(m) {
		n += ts.Elements() * ts.N()
	}
	if n != 8_030_261_248 {
		t.Errorf("elements = %d, want 8,030,261,248", n)
	}
}

// FuzzParseConfig checks ParseConfig (and SynthesizeTensors on what it
// accepts) never panics and never returns an incomplete model without an
// error. The seed corpus in testdata/fuzz/FuzzParseConfig holds real configs.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"model_type":"llama","num_hidden_layers":2,"hidden_size":64,"num_attention_heads":4,"vocab_size":100}`))
	f.Add([]byte(`{"model_type":"gemma3","text_config":{},"vision_config":null}`))
	f.Add([]byte(`{"num_hidden_layers":1e400}`))
	f.Add([]byte(`{"quantization_config":[],"layer_types":{},"text_config":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := hfmeta.ParseConfig(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "hfmeta: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			return
		}
		if m.Layers <= 0 || m.Hidden <= 0 || m.Heads <= 0 || m.Vocab <= 0 {
			t.Fatalf("accepted incomplete model %+v", m)
		}
		if m.Layers > 1<<12 || m.Hidden > 1<<16 || m.Vocab > 1<<20 || m.Experts > 1<<10 || m.Intermediate > 1<<18 {
			return // too large to synthesize quickly; ParseConfig itself is bounded
		}
		for _, ts := range estimate.SynthesizeTensors(m) {
			for _, d := range ts.Shape {
				if d <= 0 {
					t.Fatalf("tensor %s has dimension %d", ts.Name, d)
				}
			}
		}
	})
}

// gemmaPattern is the layer_types transformers derives for Gemma 2 (every
// 2nd layer full) and Gemma 3 (every 6th): sliding otherwise.
func gemmaPattern(n, every int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "sliding_attention"
		if (i+1)%every == 0 {
			out[i] = "full_attention"
		}
	}
	return out
}

// TestPythonConstants: the NaN and ±Infinity Python's json module writes
// become null outside strings and stay untouched inside them, so a real
// Nemotron-H config ("time_step_limit": [0.0, Infinity]) parses.
func TestPythonConstants(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a": [0.0, Infinity]}`, `{"a": [0.0, null]}`},
		{`{"a": -Infinity, "b": NaN}`, `{"a": null, "b": null}`},
		{`{"s": "Infinity \"NaN\" -Infinity", "t": Infinity}`, `{"s": "Infinity \"NaN\" -Infinity", "t": null}`},
		{`{"s": "a\\", "t": NaN}`, `{"s": "a\\", "t": null}`},
		{`{"plain": 1}`, `{"plain": 1}`},
	}
	for _, c := range cases {
		if got := string(hfmeta.PythonConstants([]byte(c.in))); got != c.want {
			t.Errorf("PythonConstants(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	cfg := `{"model_type": "nemotron_h", "num_hidden_layers": 4, "hidden_size": 1024, "vocab_size": 32000,
		"num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 128, "hybrid_override_pattern": "M-M*",
		"mamba_num_heads": 32, "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8, "conv_kernel": 4,
		"intermediate_size": 4096, "time_step_limit": [0.0, Infinity]}`
	m, _, err := hfmeta.ParseConfig([]byte(cfg))
	if err != nil || m.Layers != 4 {
		t.Fatalf("ParseConfig with Infinity: layers %d, %v", m.Layers, err)
	}
}
