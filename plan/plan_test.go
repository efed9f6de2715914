package plan_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/plan"
)

func llama8B(t testing.TB) estimate.Model {
	t.Helper()
	meta, err := (&hfmeta.Client{Offline: true}).FromCatalog("meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	return meta.Model
}

func skus(t testing.TB, names ...string) []gpus.SKU {
	t.Helper()
	var out []gpus.SKU
	for _, n := range names {
		s, err := gpus.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestSettingsPerEngine(t *testing.T) {
	base := estimate.Settings{KVCacheDType: estimate.F8E4M3}
	tgi := plan.Settings("tgi", 8192, base)
	if tgi.MaxTotalTokens != 8192 || tgi.MaxInputTokens != 8191 || tgi.MaxModelLen != 0 || tgi.KVCacheDType != estimate.F8E4M3 {
		t.Errorf("tgi %+v", tgi)
	}
	for _, e := range []string{"vllm", "sglang"} {
		if s := plan.Settings(e, 8192, base); s.MaxModelLen != 8192 || s.MaxTotalTokens != 0 || s.KVCacheDType != estimate.F8E4M3 {
			t.Errorf("%s %+v", e, s)
		}
	}
}

// One L4 holds fewer than 8 requests of 8,192 tokens; one L40S and two L4s
// do. Prices order the set-ups that meet the target; near misses say why.
func TestRun(t *testing.T) {
	r := plan.Request{Model: llama8B(t), ModelRef: "meta-llama/Llama-3.1-8B-Instruct", Engine: estimate.Engine{Name: "tgi"},
		SKUs: skus(t, "L4", "L40S"), TP: []int{1, 2}, Context: 8192, Concurrency: 8,
		Prices: map[string]float64{"l4": 0.80, "l40s": 1.20}}
	res := plan.Run(r)
	if len(res.Rows) != 4 || len(res.Warnings) != 0 {
		t.Fatalf("%d rows, warnings %q", len(res.Rows), res.Warnings)
	}
	got := []string{}
	for _, row := range res.Rows {
		got = append(got, row.GPU+"×"+string(rune('0'+row.Count)))
	}
	// Meeting set-ups first, cheapest first: 1 × L40S ($1.20), 2 × L4
	// ($1.60), 2 × L40S ($2.40); then 1 × L4, which starts but misses.
	if strings.Join(got, " ") != "l40s×1 l4×2 l40s×2 l4×1" {
		t.Errorf("order %v", got)
	}
	for _, row := range res.Rows[:3] {
		// Each row's figures are the estimate's own for that set-up.
		sku, _ := gpus.Lookup(row.GPU)
		e, err := estimate.Run(r.Model, estimate.Hardware{GPU: sku.GPU, Count: row.Count}, r.Engine, plan.Settings("tgi", 8192, estimate.Settings{}))
		if err != nil || !row.Meets || row.Why != "" || e.Startup.MaxBatchTotalTokens != row.KVBudget || e.Startup.MaxConcurrentRequests != row.Concurrency {
			t.Errorf("row %+v, estimate %d / %d", row, e.Startup.MaxBatchTotalTokens, e.Startup.MaxConcurrentRequests)
		}
		if !strings.Contains(row.Launch, "--max-total-tokens 8192") || *row.HourlyCost != map[string]float64{"l4": 0.80, "l40s": 1.20}[row.GPU]*float64(row.Count) {
			t.Errorf("row %+v", row)
		}
	}
	miss := res.Rows[3]
	if miss.Meets || !miss.Starts || miss.Concurrency >= 8 || !strings.Contains(miss.Why, "not 8") {
		t.Errorf("near miss %+v", miss)
	}
}

// A context past the model's own is warned about, and a set-up that does
// not start says the engine's failure.
func TestRunWarnsAndExplains(t *testing.T) {
	r := plan.Request{Model: llama8B(t), ModelRef: "m", Engine: estimate.Engine{Name: "vllm"}, SKUs: skus(t, "L4"), TP: []int{1},
		Context: 200_000, Concurrency: 1}
	res := plan.Run(r)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "--context 200000 exceeds the model's max_position_embeddings 131072") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if row := res.Rows[0]; row.Starts || row.Meets || !strings.HasPrefix(row.Why, estimate.FailureArgumentValidation) {
		t.Errorf("row %+v", row)
	}
}

func TestParsePrices(t *testing.T) {
	p, err := plan.ParsePrices(strings.NewReader("gpu,price\nH100,2.49\nL4, 0.80\n"), false)
	if err != nil || p["h100-sxm"] != 2.49 || p["l4"] != 0.80 || len(p) != 2 {
		t.Errorf("csv: %v, %v", p, err)
	}
	p, err = plan.ParsePrices(strings.NewReader(`{"a100-80gb": 1.79}`), true)
	if err != nil || len(p) != 1 {
		t.Errorf("json: %v, %v", p, err)
	}
	for in, want := range map[string]string{
		"H100\n":              "line 1: want gpu,price",
		"H100,cheap\n":        "no gpu,price line", // a first line that is no price is a header
		"gpu,price\nH100,x\n": `line 2: "x" is not a price`,
		"H1000,1\n":           "unknown GPU",
		"H100,-1\n":           "negative price",
	} {
		if _, err := plan.ParsePrices(strings.NewReader(in), false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestReadPrices: the file's name chooses the format (.json, else CSV), and
// a file that cannot be read or parsed names itself.
func TestReadPrices(t *testing.T) {
	dir := t.TempDir()
	csvPath, jsonPath := filepath.Join(dir, "prices.csv"), filepath.Join(dir, "prices.JSON")
	if err := os.WriteFile(csvPath, []byte("gpu,price\nL4,0.80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonPath, []byte(`{"H100": 2.49, "l4": 0.7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := plan.ReadPrices(csvPath); err != nil || len(p) != 1 || p["l4"] != 0.80 {
		t.Errorf("csv: %v, %v", p, err)
	}
	if p, err := plan.ReadPrices(jsonPath); err != nil || len(p) != 2 || p["h100-sxm"] != 2.49 || p["l4"] != 0.7 {
		t.Errorf("json: %v, %v", p, err)
	}
	if _, err := plan.ReadPrices(filepath.Join(dir, "none.csv")); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "prices: ") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(csvPath, []byte("H100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.ReadPrices(csvPath); err == nil || err.Error() != csvPath+": prices: line 1: want gpu,price" {
		t.Errorf("bad csv: %v", err)
	}
}
