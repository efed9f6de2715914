package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/plan"
)

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.csv")
	os.WriteFile(prices, []byte("gpu,price\nH100,2.49\nL4,0.80\nA100-80GB,1.79\nL40S,1.20\n"), 0o644)
	out, errOut, code := runCLI(t, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--context", "8192", "--concurrency", "8", "--prices", prices,
		"--gpu", "H100,L4,A100-80GB,L40S", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Setups []plan.Row `json:"setups"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Setups) == 0 {
		t.Fatal("no set-up")
	}
	prev := -1.0
	for _, r := range res.Setups {
		if !r.Meets || r.Concurrency < 8 || r.HourlyCost == nil || !strings.Contains(r.Launch, "--max-total-tokens 8192") {
			t.Errorf("row %+v", r)
		}
		// Sorted by hourly cost: price × count.
		if *r.HourlyCost < prev {
			t.Errorf("not sorted by cost: %.2f after %.2f", *r.HourlyCost, prev)
		}
		prev = *r.HourlyCost
	}
	// One L4 ($0.80) holds far fewer than 8 × 8,192 = 65,536 KV tokens, so
	// the cheapest set-up that serves is one L40S ($1.20), then two L4s ($1.60).
	first := res.Setups[0]
	if first.GPU != "l40s" || first.Count != 1 || *first.HourlyCost != 1.20 || res.Setups[1].GPU != "l4" || res.Setups[1].Count != 2 {
		t.Errorf("cheapest: %+v, then %+v", first, res.Setups[1])
	}
	for _, r := range res.Setups {
		if r.GPU == "l4" && r.Count == 1 {
			t.Errorf("1 × L4 cannot hold 8 requests of 8,192 tokens: %+v", r)
		}
	}
	// Each row's concurrency is the estimate's own figure for that set-up.
	meta, _ := (&hfmeta.Client{Offline: true}).FromCatalog("meta-llama/Llama-3.1-8B-Instruct")
	sku, _ := gpus.Lookup(first.GPU)
	r, err := estimate.Run(meta.Model, estimate.Hardware{GPU: sku.GPU, Count: first.Count}, estimate.Engine{Name: "tgi"}, plan.Settings("tgi", 8192, estimate.Settings{}))
	if err != nil || r.Startup.MaxConcurrentRequests != first.Concurrency || r.Startup.MaxBatchTotalTokens != first.KVBudget {
		t.Errorf("first row %+v vs estimate %d/%d", first, r.Startup.MaxConcurrentRequests, r.Startup.MaxBatchTotalTokens)
	}

	_, errOut, code = runCLI(t, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--prices", filepath.Join(dir, "nope.csv"))
	if code != cmdutil.ExitError || !strings.Contains(errOut, "vramcalc: hint: a CSV with lines") {
		t.Errorf("missing prices: exit %d %q", code, errOut)
	}
}

// BenchmarkPlanSweep is one sweep of the whole GPU catalog × TP 1, 2, 4, 8
// for Llama-3.1-8B at 32k context, reported as configurations per second
// (target ≥ 100,000/s).
func BenchmarkPlanSweep(b *testing.B) {
	meta, err := (&hfmeta.Client{Offline: true}).FromCatalog("meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		b.Fatal(err)
	}
	skus := gpus.All()
	tps := []int{1, 2, 4, 8}
	n := 0
	for b.Loop() {
		plan.Sweep(plan.Request{Model: meta.Model, Engine: estimate.Engine{Name: "tgi"}, SKUs: skus, TP: tps, Context: 32768, Concurrency: 16})
		n += len(skus) * len(tps)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "configs/s")
}

// TestPlanCorrections: a corrections file with 1 GiB more overhead per GPU
// lowers one L40S's KV budget by 1 GiB / 131,072 B = 8,192 tokens (TGI v3.3:
// the extra memory in use comes straight out of the pool; block size 1).
func TestPlanCorrections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corr.json")
	os.WriteFile(path, []byte(`{"version":1,"engine":"tgi","engine_version":"3.3.7","gpu":"NVIDIA L40S","activation_factor":1,"overhead_bytes":1073741824,"wiggle":0,"margin_pct":0,"safe_side":"below","fit":{"n":1}}`), 0o644)
	budget := func(extra ...string) int {
		args := append([]string{"plan", "meta-llama/Llama-3.1-8B-Instruct", "--context", "8192", "--gpu", "L40S", "--tp", "1", "-o", "json"}, extra...)
		out, errOut, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var res struct{ Setups []plan.Row }
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Setups) != 1 {
			t.Fatalf("%v %s", err, out)
		}
		return res.Setups[0].KVBudget
	}
	if d := budget() - budget("--corrections", path); d != 8192 {
		t.Errorf("budget drop %d, want 8,192", d)
	}
}
