package hfmeta_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// TestUnmodelledFamilies: each family's layout is read into per-layer
// kinds (shape fixtures under testdata/configs/unmodelled); what a config
// leaves out (the nemotron_h and falcon_h1 fixtures lack the Mamba2 heads
// and the conv width) stays named in Model.Unmodelled, one phrase per kind.
func TestUnmodelledFamilies(t *testing.T) {
	cases := []struct {
		file  string
		state bool     // per-sequence state layers
		want  []string // substrings (split at |) of each unmodelled phrase, in order
		kinds string   // the kind counts read
	}{
		// 48 layers, every 4th full attention: 12 + 36.
		{"qwen3_next.json", true, nil, "12 full_attention + 36 linear_attention"},
		{"granitemoehybrid.json", true, nil, "1 full_attention + 3 mamba2"},
		{"nemotron_h.json", true, []string{"hybrid layer layout|(hybrid_override_pattern)", "state-space"}, "8 full_attention"},
		// attn_layer_period 8, offset 4: layers 4, 12, 20, 28 attend.
		{"jamba.json", true, nil, "4 full_attention + 28 mamba"},
		{"falcon_h1.json", true, []string{"(mamba_d_state, mamba_n_heads, mamba_d_ssm)"}, "24 full_attention"},
		// no no_rope_layers: every 4th layer global, the others chunked.
		{"llama4.json", false, nil, "36 chunked_attention + 12 full_attention"},
		// the last 15 of 35 layers read earlier layers' KV.
		{"gemma3n.json", false, nil, "20 full_attention + 15 kv_shared"},
		{"deepseek_v32.json", false, nil, "61 mla"},
	}
	for _, c := range cases {
		m := parseFile(t, filepath.Join("..", "testdata", "configs", "unmodelled", c.file))
		if m.StateLayers != c.state {
			t.Errorf("%s: state layers %v, want %v", c.file, m.StateLayers, c.state)
		}
		if got := kindString(m); got != c.kinds {
			t.Errorf("%s: kinds %s, want %s", c.file, got, c.kinds)
		}
		if len(m.Unmodelled) != len(c.want) {
			t.Errorf("%s: unmodelled %q, want %d phrases", c.file, m.Unmodelled, len(c.want))
			continue
		}
		for i, w := range c.want {
			for _, part := range strings.Split(w, "|") {
				if !strings.Contains(m.Unmodelled[i], part) {
					t.Errorf("%s: phrase %d %q lacks %q", c.file, i, m.Unmodelled[i], part)
				}
			}
		}
	}
	// DeepSeek-V3.2's indexer keys are 128 wide.
	if m := parseFile(t, filepath.Join("..", "testdata", "configs", "unmodelled", "deepseek_v32.json")); m.IndexHeadDim != 128 {
		t.Errorf("deepseek_v32 index_head_dim %d, want 128", m.IndexHeadDim)
	}
}

// kindString is the kind counts as "12 full_attention + 36 linear_attention".
func kindString(m estimate.Model) string {
	counts := m.KindCounts()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, strconv.Itoa(counts[k])+" "+string(k))
	}
	return strings.Join(parts, " + ")
}

func parseFile(t *testing.T, path string) estimate.Model {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := hfmeta.ParseConfig(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// issueKeys are the memory-relevant config keys issue 11 lists: a config
// holding one must never be estimated silently.
var issueKeys = []string{"layers_block_type", "hybrid_override_pattern", "full_attention_interval", "attn_layer_period", "attn_layer_offset",
	"attention_chunk_size", "num_kv_shared_layers", "mamba_d_state", "mamba_d_conv", "ssm_state_size", "linear_num_value_heads",
	"linear_key_head_dim", "index_topk", "index_n_heads", "linear_attn_config", "attn_type_list"}

// TestNoSilentGuess walks every config vramcalc ships (the catalog and the
// fixtures under testdata/configs) through every engine: a config with one
// of issueKeys, a layer type other than attention, or an unknown
// model_type must come out refused or with Confidence low and a warning
// for each unmodelled feature; every other, Confidence high.
func TestNoSilentGuess(t *testing.T) {
	sku, err := gpus.Lookup("H100")
	if err != nil {
		t.Fatal(err)
	}
	hw := estimate.Hardware{GPU: sku.GPU, Count: 8}
	low := 0
	for name, cfg := range shippedConfigs(t) {
		m, _, err := hfmeta.ParseConfig(cfg)
		if err != nil {
			continue // refused: not a silent guess
		}
		flag := mustFlag(t, cfg)
		if flag && len(m.Unmodelled) == 0 && len(m.Kinds) == 0 && m.IndexHeadDim == 0 {
			t.Errorf("%s: a memory-relevant key vramcalc neither reads nor names", name)
		}
		for _, eng := range estimate.Engines() {
			res, err := estimate.Run(m, hw, estimate.Engine{Name: eng.Name}, estimate.Settings{})
			if err != nil {
				continue
			}
			want := estimate.ConfidenceHigh
			// A flagged fixture is low on every engine, except where its
			// weights are derived layer by layer from config.json and the
			// engine sizes each of its kinds (highOn). A flagged catalog
			// config may be either, but high only with its kinds shown
			// (below). A vision model is low on vLLM unless its encoder's
			// profile is sized (Qwen2.5-VL, Qwen3-VL/Qwen3.5 and Gemma 3's SigLIP,
			// estimate/vllm_encoder.go), and wherever its tower is not
			// derived from vision_config (VisionTower.Kind empty).
			fixture := !strings.HasPrefix(name, "catalog:")
			encoderSized := m.VisionTower.Kind == estimate.VisionQwen25VL || m.VisionTower.Kind == estimate.VisionQwen3VL ||
				(m.VisionTower.Kind == estimate.VisionSiglip && strings.HasPrefix(m.Type, "gemma3"))
			vision := m.Vision && ((eng.Name == "vllm" && !encoderSized) || m.VisionTower.Kind == "")
			// TGI runs a model_type it does not implement through
			// transformers, sized as its own: low (Qwen3, gpt-oss, Mistral 3).
			tgiFallback := eng.Name == "tgi" && !estimate.TGINativeType(m.Type)
			if len(m.Unmodelled) > 0 || vision || tgiFallback || (fixture && flag && !slices.Contains(highOn[filepath.Base(name)], eng.Name)) {
				want = estimate.ConfidenceLow
			}
			if !fixture && flag && !vision && len(m.Unmodelled) == 0 && res.Confidence == estimate.ConfidenceLow {
				want = estimate.ConfidenceLow // a layout or kind the engine does not size, named below
			}
			warned := slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, "not modelled") })
			if res.Confidence != want || warned != (want == estimate.ConfidenceLow) {
				t.Errorf("%s on %s: confidence %q (want %q), warned %v", name, eng.Name, res.Confidence, want, warned)
			}
			// Sized, and said so: a flagged config estimated with
			// confidence high shows its layer kinds beyond plain attention
			// (or DeepSeek-V3.2's indexer).
			if flag && res.Confidence == estimate.ConfidenceHigh && !shown(res, m) {
				t.Errorf("%s on %s: confidence high, but layer_kinds %v do not show its layout", name, eng.Name, res.LayerKinds)
			}
			if want == estimate.ConfidenceLow {
				low++
			}
		}
	}
	// The fixtures give several (falcon_h1, gemma3n and nemotron_h on
	// vLLM; deepseek_v32 on TGI, which refuses the state-layer ones;
	// SGLang has no jamba class, estimate/served.go; no engine but vLLM
	// serves minimax_m1),
	// and the catalog's vision models on vLLM whose encoder profile is not
	// sized (Pixtral, Llama 4, Phi-4-multimodal) at least 3.
	if low < 13 {
		t.Errorf("only %d low-confidence estimates; the fixtures and the catalog's vision models give at least 13", low)
	}
}

// shown reports whether the result's layer kinds show more than plain
// full and sliding attention, or the model has a sparse indexer.
func shown(res estimate.Result, m estimate.Model) bool {
	for k := range res.LayerKinds.Map() {
		if k != estimate.KindFull && k != estimate.KindSliding {
			return true
		}
	}
	return m.IndexHeadDim > 0
}

// highOn lists the shape fixtures whose layout vramcalc derives from
// config.json alone, on the engines that size every kind they have: the
// gated delta nets, Kimi-Linear's KDA and MLA, MiniMax's lightning
// attention and Jamba's Mamba layers on vLLM, DeepSeek-V3.2's indexer on
// vLLM and SGLang (its default release v0.5.18 puts it in the KV cell),
// Llama 4's chunked layers on vLLM and TGI (which allocates them at full
// length; SGLang sizes the state pool of Qwen3-Next and Kimi-Linear, has
// no Jamba class, and does not size chunked layers at all; TGI refuses
// state layers and does not size the indexer; no SGLang release serves
// MiniMax-Text-01 / M1).
var highOn = map[string][]string{"qwen3_next.json": {"vllm", "sglang"}, "jamba.json": {"vllm"}, "deepseek_v32.json": {"vllm", "sglang"},
	"llama4.json": {"tgi", "vllm"}, "kimi_linear.json": {"vllm", "sglang"}, "minimax_m1.json": {"vllm"}}

// mustFlag reports whether a config holds something issue 11 lists: one of
// issueKeys (top level or text_config), a layer type that is not attention,
// or a model_type the parser does not know (its standard keys are a guess).
func mustFlag(t *testing.T, cfg []byte) bool {
	var root map[string]any
	if err := json.Unmarshal(hfmeta.PythonConstants(cfg), &root); err != nil {
		t.Fatal(err)
	}
	scopes := []map[string]any{root}
	if tc, ok := root["text_config"].(map[string]any); ok {
		scopes = append(scopes, tc)
	}
	for _, s := range scopes {
		for _, k := range issueKeys {
			if _, ok := s[k]; ok {
				return true
			}
		}
		types, _ := s["layer_types"].([]any)
		for _, lt := range types {
			if v, _ := lt.(string); !strings.HasSuffix(v, "attention") {
				return true
			}
		}
	}
	return false
}

// shippedConfigs are the catalog's config.json files and every JSON
// config under testdata/configs, by name.
func shippedConfigs(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, e := range catalog.All() {
		out["catalog:"+e.ID] = e.Config
	}
	err := filepath.WalkDir(filepath.Join("..", "testdata", "configs"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 70+8 {
		t.Fatalf("%d configs, want the catalog's 70 and the 8 fixtures at least", len(out))
	}
	return out
}
