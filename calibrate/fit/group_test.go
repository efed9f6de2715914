package fit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// TestGroup: four starts of Llama-3.1-8B-Instruct on an A100 80GB under TGI
// 3.3.7, with prefill budgets of 4,096 to 32,768 tokens, whose reported
// budgets come from the estimator with activation ×1.15 and 512 MiB more
// per GPU. Four starts fit the factor and the overhead (no wiggle from
// 3.0); both come back within 1% (512 MiB = 536,870,912 B) and the file
// names the group.
func TestGroup(t *testing.T) {
	meta, err := (&hfmeta.Client{Offline: true, CacheDir: t.TempDir()}).Resolve(context.Background(), "meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	sku, err := gpus.Lookup("A100-80GB")
	if err != nil {
		t.Fatal(err)
	}
	g := calibrate.Group{Engine: "tgi", GPU: sku.GPU.Name}
	for i, prefill := range []int{4096, 8192, 16384, 32768} {
		in := calibrate.Inputs{Model: meta.Model, Hardware: estimate.Hardware{GPU: sku.GPU, Count: 1}, Engine: estimate.Engine{Name: "tgi", Version: "3.3.7"},
			Settings: estimate.Settings{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: prefill}}
		g.Starts = append(g.Starts, calibrate.Start{ID: string(rune('a' + i)), Inputs: in})
	}
	truth := estimate.Corrections{ActivationFactor: 1.15, OverheadBytes: 512 * estimate.MiB}
	budgets, err := g.Predict(truth)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range budgets {
		if b <= 0 {
			t.Fatalf("start %d does not start with the true corrections", i)
		}
		g.Starts[i].Reported = int(b)
	}
	cal, err := Group(g)
	if err != nil {
		t.Fatal(err)
	}
	f := cal.File
	t.Logf("%+v", f)
	if !within(f.ActivationFactor, 1.15, 0.01) || !within(float64(f.OverheadBytes), 536_870_912, 0.01) || f.Wiggle != 0 {
		t.Errorf("fit ×%g, %d B, wiggle %g; want ×1.15, 536,870,912 B, 0", f.ActivationFactor, f.OverheadBytes, f.Wiggle)
	}
	if f.Engine != "tgi" || f.EngineVersion != "3.3.7" || f.GPU != "NVIDIA A100-SXM4-80GB" || f.Fit.N != 4 ||
		strings.Join(f.Fit.Params, ",") != "activation_factor,overhead_bytes" || f.Fit.MedianAbsPctAfter > 0.01 {
		t.Errorf("file %+v", f)
	}

	// A start that reports no budget cannot be fitted: the error names the group.
	g.Starts[0].Reported = 0
	if _, err := Group(g); !errors.Is(err, calibrate.ErrFit) || !strings.HasPrefix(err.Error(), "calibrate tgi on NVIDIA A100-SXM4-80GB: ") {
		t.Errorf("err = %v", err)
	}
}
