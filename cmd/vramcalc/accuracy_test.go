package main

import (
	"encoding/json"
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
// the dev file: vLLM median |error| ≤ 2% and worst ≤ 8% over its 20 rows,
// TGI median ≤ 5% on its 2 credible rows, SGLang ≤ 3% on its row.
func TestAccuracyTargets(t *testing.T) {
	rows, engines := accuracyOn(t, "startup_reports_dev.csv")
	for name, want := range map[string]int{"vllm": 20, "tgi": 2, "sglang": 1} {
		e := engines[name]
		if e.Scored != want || e.Errors != 0 || !e.Meets {
			t.Errorf("%s: %d rows scored (want %d), %d errors, median %.2f%%, worst %.2f%%: target missed", name, e.Scored, want, e.Errors, e.MedianAbsPct, e.WorstAbsPct)
		}
	}
	skipped := map[string]bool{}
	for _, r := range rows {
		if r.Status == "skipped" {
			skipped[r.RowID] = true
		}
	}
	// Row 6: JumpStart settings not shown; row 7: marked DOUBTFUL.
	if !skipped["6"] || !skipped["7"] {
		t.Errorf("rows 6 and 7 must be skipped: %v", skipped)
	}
}

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
