package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// accuracyOn runs `vramcalc accuracy -o json` on the checked-in dev file.
func accuracyOn(t *testing.T, file string) (rows []accuracyRowJSON, engines map[string]accuracyEngineJSON) {
	t.Helper()
	out, errOut, code := runCLI(t, "accuracy", "-o", "json", "../../testdata/"+file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Rows    []accuracyRowJSON    `json:"rows"`
		Engines []accuracyEngineJSON `json:"engines"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	engines = map[string]accuracyEngineJSON{}
	for _, e := range res.Engines {
		engines[e.Engine] = e
		t.Logf("%-6s scored %d skipped %d errors %d: median %.2f%% worst %.2f%% (target %g%%)", e.Engine, e.Scored, e.Skipped, e.Errors, e.MedianAbsPct, e.WorstAbsPct, e.MedianTarget)
	}
	for _, r := range res.Rows {
		t.Logf("row %-3s %-6s %-9s %-36s %-12s reported %12.2f predicted %12.2f %+7.2f%% %s %s", r.RowID, r.Engine, r.Version, r.Model, r.Metric, r.Reported, r.Predicted, r.ErrorPct, r.Status, r.Reason)
	}
	return res.Rows, engines
}

// TestAccuracyTargets fails when the estimate regresses past the targets on
// the dev file: vLLM median |error| ≤ 2% and worst ≤ 8% over its 36 scored
// rows but the ones the README explains (explained), TGI median ≤ 5% on its
// 2 credible rows, SGLang ≤ 3% on its 4 rows. The 2026 rows of community or
// local checkpoints are listed as not evaluable, not scored.
func TestAccuracyTargets(t *testing.T) {
	rows, engines := accuracyOn(t, "startup_reports_dev.csv")
	for name, want := range map[string]int{"vllm": 36, "tgi": 2, "sglang": 4} {
		e := engines[name]
		if e.Scored != want || e.Errors != 0 || e.MedianAbsPct > e.MedianTarget {
			t.Errorf("%s: %d rows scored (want %d), %d errors, median %.2f%%: target missed", name, e.Scored, want, e.Errors, e.MedianAbsPct)
		}
	}
	skipped := map[string]bool{}
	for _, r := range rows {
		if r.Status == "skipped" {
			skipped[r.RowID] = true
		}
		if r.Status != "scored" || r.Engine != "vllm" {
			continue
		}
		if band, ok := explained[r.RowID]; ok {
			if r.ErrorPct < band[0] || r.ErrorPct > band[1] {
				t.Errorf("row %s: %+.2f%%, outside the README's explained %+.1f%% … %+.1f%%", r.RowID, r.ErrorPct, band[0], band[1])
			}
		} else if math.Abs(r.ErrorPct) > 8 {
			t.Errorf("row %s: %+.2f%%, beyond vLLM's worst-case target of 8%%", r.RowID, r.ErrorPct)
		}
	}
	// Row 6: JumpStart settings not shown; row 7: marked DOUBTFUL; rows
	// 101–125: not evaluable (local or community-quantized checkpoints);
	// 301: no GPU printed; 304: a fork's dev build.
	for _, id := range []string{"6", "7", "101", "125", "301", "304"} {
		if !skipped[id] {
			t.Errorf("row %s must be skipped: %v", id, skipped)
		}
	}
}

// explained are the dev rows outside vLLM's 8% target that the README
// explains, with the band their error must stay in. Row 206
// (Mistral-Small-3.2, v0.11.0): the reporter's image took FlashInfer's
// sampler, so the profile's peak was 2.12 GiB where v0.11.0's default
// (the sort path, measured in rows 20–23) gives 4.86; with --sampler
// flashinfer the row is +0.90%.
//
// Rows 403 and 404 (vLLM 0.28.0 and 0.27.1 on Model Runner V2): first starts
// that compiled the model, whose profile peaked about 1 GiB higher than a
// start with torch.compile's cache (row 404's peak 1.18 GiB, row 405's on
// the same worker with the cache 0.19 GiB, −0.63% here); vramcalc sizes the
// cached start and warns.
var explained = map[string][2]float64{"206": {-11, -8}, "403": {8, 13}, "404": {16, 23}}

func TestAccuracyErrors(t *testing.T) {
	_, errOut, code := runCLI(t, "accuracy", "no-such-file.csv")
	if code != cmdutil.ExitError || !strings.Contains(errOut, "vramcalc: error: accuracy: open no-such-file.csv") || !strings.Contains(errOut, "vramcalc: hint: give the path") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "accuracy")
	if code != cmdutil.ExitUsage || !strings.Contains(errOut, "accuracy takes one FILE.csv argument") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestAccuracyHeldOut scores rows that are not in the dev file
// (testdata/startup_reports_extra.csv, collected after the vLLM and SGLang
// models were built): vLLM and SGLang must meet their targets there too.
// TGI's two held-out rows are logged, not asserted: both are over-predicted
// (row 1000 by 38%, row 1001 by 11%), an open gap recorded in the README.
func TestAccuracyHeldOut(t *testing.T) {
	_, engines := accuracyOn(t, "startup_reports_extra.csv")
	for _, name := range []string{"vllm", "sglang"} {
		e := engines[name]
		if e.Scored < 2 || e.MedianAbsPct > e.MedianTarget || (e.WorstTarget > 0 && e.WorstAbsPct > e.WorstTarget) {
			t.Errorf("%s held out: %d rows scored, median %.2f%%, worst %.2f%%: target missed", name, e.Scored, e.MedianAbsPct, e.WorstAbsPct)
		}
	}
}
