package hfmeta_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// TestUnmodelledFamilies: each family's memory-relevant keys that vramcalc
// does not size yet are named in Model.Unmodelled (shape fixtures under
// testdata/configs/unmodelled), one phrase per kind.
func TestUnmodelledFamilies(t *testing.T) {
	cases := []struct {
		file  string
		state bool     // per-sequence state layers
		want  []string // substrings (split at |) of each phrase, in order
	}{
		{"qwen3_next.json", true, []string{"hybrid layer layout", "state-space or linear-attention", `model_type "qwen3_next"`}},
		{"granitemoehybrid.json", true, []string{"state-space or linear-attention", "layer_types 3 of 4 are mamba", `model_type "granitemoehybrid"`}},
		{"nemotron_h.json", true, []string{"hybrid layer layout|(hybrid_override_pattern)", "state-space", `model_type "nemotron_h"`}},
		{"jamba.json", true, []string{"hybrid layer layout|(attn_layer_period, attn_layer_offset)", "(mamba_d_state, mamba_d_conv, mamba_expand)", `model_type "jamba"`}},
		{"falcon_h1.json", true, []string{"(mamba_d_state, mamba_n_heads, mamba_d_ssm)", `model_type "falcon_h1"`}},
		{"llama4.json", false, []string{"chunked local attention|(attention_chunk_size)", `model_type "llama4"`}},
		{"gemma3n.json", false, []string{"KV-shared layers|(num_kv_shared_layers)", `model_type "gemma3n"`}},
		{"deepseek_v32.json", false, []string{"sparse-attention indexer|(index_topk, index_n_heads, index_head_dim)", `model_type "deepseek_v32"`}},
	}
	for _, c := range cases {
		m := parseFile(t, filepath.Join("..", "testdata", "configs", "unmodelled", c.file))
		if m.StateLayers != c.state {
			t.Errorf("%s: state layers %v, want %v", c.file, m.StateLayers, c.state)
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
	"linear_key_head_dim", "index_topk", "index_n_heads"}

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
		if mustFlag(t, cfg) && len(m.Unmodelled) == 0 {
			t.Errorf("%s: a memory-relevant key vramcalc does not size, and nothing says so", name)
		}
		for _, eng := range estimate.Engines() {
			res, err := estimate.Run(m, hw, estimate.Engine{Name: eng.Name}, estimate.Settings{})
			if err != nil {
				continue
			}
			want := estimate.ConfidenceHigh
			if len(m.Unmodelled) > 0 || (m.Vision && len(m.Tensors) == 0) {
				want = estimate.ConfidenceLow
			}
			warned := slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, "not modelled") })
			if res.Confidence != want || warned != (want == estimate.ConfidenceLow) {
				t.Errorf("%s on %s: confidence %q (want %q), warned %v", name, eng.Name, res.Confidence, want, warned)
			}
			if want == estimate.ConfidenceLow {
				low++
			}
		}
	}
	// The 8 fixtures on 3 engines, and the catalog's configs read without
	// their tensors where they have a vision tower.
	if low < 24 {
		t.Errorf("only %d low-confidence estimates; the fixtures alone give 24", low)
	}
}

// mustFlag reports whether a config holds something issue 11 lists: one of
// issueKeys (top level or text_config), a layer type that is not attention,
// or a model_type the parser does not know (its standard keys are a guess).
func mustFlag(t *testing.T, cfg []byte) bool {
	var root map[string]any
	if err := json.Unmarshal(cfg, &root); err != nil {
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
