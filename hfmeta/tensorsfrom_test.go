package hfmeta_test

import (
	"context"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// TestTensorsFromPerSource pins Model.TensorsFrom, the label the estimate
// reports as "weights from", for every source Resolve reads: safetensors
// headers from a local directory and the HF cache (the Hub's:
// hfmeta/hub's TestTensorsFromHub); the catalog's
// summary, checked when the entry has a published parameter count
// (Qwen3-0.6B: 751,632,384) and unchecked when it has none (Qwen3-14B); and
// no label when there are no tensors (the estimate then says config.json).
func TestTensorsFromPerSource(t *testing.T) {
	const llama = "meta-llama/Llama-3.1-8B-Instruct"
	tests := []struct {
		name    string
		resolve func(t *testing.T) (hfmeta.Meta, error)
		source  string
		groups  int // len(Model.Tensors)
		want    string
	}{
		{"local directory with shards", func(t *testing.T) (hfmeta.Meta, error) {
			return (&hfmeta.Client{}).FromDir("testdata/hub/" + llama + "/resolve/main")
		}, hfmeta.SourceLocal, 12, estimate.WeightsFromSafetensors},
		{"local directory, config only", func(t *testing.T) (hfmeta.Meta, error) {
			return (&hfmeta.Client{}).FromDir("testdata/hub/vramcalc-test/config-only/resolve/main")
		}, hfmeta.SourceLocal, 0, ""},
		{"cache with the weights' headers", func(t *testing.T) (hfmeta.Meta, error) {
			dir := t.TempDir()
			hfCache(t, dir, "Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "config.json", "model.safetensors")
			return (&hfmeta.Client{CacheDir: dir}).FromCache("Qwen/Qwen3-0.6B")
		}, hfmeta.SourceCache, 14, estimate.WeightsFromSafetensors},
		{"cache, config only", func(t *testing.T) (hfmeta.Meta, error) {
			dir := t.TempDir()
			hfCache(t, dir, llama, llama, "config.json")
			return (&hfmeta.Client{CacheDir: dir}).FromCache(llama)
		}, hfmeta.SourceCache, 0, ""},
		{"catalog, checked against the published count", func(t *testing.T) (hfmeta.Meta, error) {
			return (&hfmeta.Client{Offline: true}).Resolve(context.Background(), "Qwen/Qwen3-0.6B")
		}, hfmeta.SourceCatalog, 14, estimate.WeightsFromCatalog},
		{"catalog, no published count", func(t *testing.T) (hfmeta.Meta, error) {
			return (&hfmeta.Client{Offline: true}).Resolve(context.Background(), "Qwen/Qwen3-14B")
		}, hfmeta.SourceCatalog, 14, estimate.WeightsFromCatalogUnchecked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.resolve(t)
			if err != nil {
				t.Fatal(err)
			}
			if m.Source != tt.source || len(m.Model.Tensors) != tt.groups || m.Model.TensorsFrom != tt.want {
				t.Errorf("Source %q, %d tensor groups, TensorsFrom %q; want %q, %d, %q",
					m.Source, len(m.Model.Tensors), m.Model.TensorsFrom, tt.source, tt.groups, tt.want)
			}
		})
	}
}

// TestCatalogLabelFollowsParams: the two catalog entries above are labelled
// by their Params (Qwen3-0.6B's 751,632,384, Qwen3-14B's none), and every
// catalog entry with tensors gets one of the two catalog labels.
func TestCatalogLabelFollowsParams(t *testing.T) {
	for id, want := range map[string]int64{"Qwen/Qwen3-0.6B": 751_632_384, "Qwen/Qwen3-14B": 0} {
		e, ok := catalog.Lookup(id)
		if !ok || e.Params != want {
			t.Errorf("%s: Params %d (found %v), want %d", id, e.Params, ok, want)
		}
	}
	checked, unchecked := 0, 0
	for _, e := range catalog.All() {
		m, err := (&hfmeta.Client{}).FromCatalog(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := estimate.WeightsFromCatalogUnchecked
		if e.Params > 0 {
			want, checked = estimate.WeightsFromCatalog, checked+1
		} else {
			unchecked++
		}
		if len(m.Model.Tensors) > 0 && m.Model.TensorsFrom != want {
			t.Errorf("%s (Params %d): TensorsFrom %q, want %q", e.ID, e.Params, m.Model.TensorsFrom, want)
		}
	}
	t.Logf("%d catalog entries checked against a published count, %d unchecked", checked, unchecked)
}
