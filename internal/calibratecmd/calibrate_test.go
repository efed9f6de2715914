package calibratecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/probe"
)

// TestCalibrateValidateResults writes a validate results file whose budgets
// come from the estimator's own physics with known corrections: 10 starts of
// Llama-3.1-8B-Instruct (catalog) on an A100 80GB under TGI 2.4.1 (the image
// tag), activation ×1.15, 512 MiB more per GPU, wiggle 0.92 instead of 0.90
// (v2.4.0:globals.py:26), plus one failed launch that must be skipped.
// calibrate recovers the three within 1% and writes them.
func TestCalibrateValidateResults(t *testing.T) {
	dir := t.TempDir()
	client := &hfmeta.Client{Offline: true, CacheDir: dir}
	meta, err := client.Resolve(context.Background(), "meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	sku, err := gpus.Lookup("A100-80GB")
	if err != nil {
		t.Fatal(err)
	}
	hw := estimate.Hardware{GPU: sku.GPU, Count: 1}
	truth := estimate.Corrections{ActivationFactor: 1.15, OverheadBytes: 512 * estimate.MiB, Wiggle: 0.92}
	rng := rand.New(rand.NewPCG(7, 0))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range 10 {
		tt := 2048 + rng.IntN(30_721)
		p := probe.Point{MaxTotalTokens: tt, MaxInputTokens: tt - 1, MaxBatchPrefillTokens: tt - 1 + rng.IntN(16_385)}
		s := estimate.Settings{MaxInputTokens: p.MaxInputTokens, MaxTotalTokens: p.MaxTotalTokens, MaxBatchPrefillTokens: p.MaxBatchPrefillTokens, Corrections: &truth}
		res, err := estimate.Run(meta.Model, hw, estimate.Engine{Name: "tgi", Version: "2.4.1"}, s)
		if err != nil || !res.Startup.Fits {
			t.Fatalf("point %d: %v %+v", i, err, res.Startup)
		}
		o := probe.Observation{Run: "r", Seq: i + 1, Engine: "tgi", Image: "ghcr.io/huggingface/text-generation-inference:2.4.1",
			Model: "meta-llama/Llama-3.1-8B-Instruct", Point: p, Outcome: "ok", Reported: probe.Reported{MaxBatchTotalTokensLog: res.Startup.MaxBatchTotalTokens}}
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
	}
	failed := probe.Observation{Run: "r", Seq: 11, Engine: "tgi", Image: "ghcr.io/huggingface/text-generation-inference:2.4.1",
		Model: "meta-llama/Llama-3.1-8B-Instruct", Point: probe.Point{MaxTotalTokens: 120_000, MaxInputTokens: 119_999}, Outcome: "failed", Failure: estimate.FailureWarmupOOM}
	if err := enc.Encode(failed); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.jsonl")
	if err := os.WriteFile(results, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "corrections.json")
	stdout, stderr, code := cmdtest.Run(t, Root, results, "--gpu", "A100-80GB", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(stdout)
	for _, want := range []string{"tgi 2.4.1 on NVIDIA A100-SXM4-80GB: 10 starts, fitted activation_factor, overhead_bytes, wiggle",
		"results.jsonl:11  did not start, or no KV budget reported"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := calibrate.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.01*math.Abs(want) }
	// 512 MiB = 536,870,912 B.
	if !near(file.ActivationFactor, 1.15) || !near(float64(file.OverheadBytes), 536_870_912) || !near(file.Wiggle, 0.92) {
		t.Errorf("recovered ×%g, %d B, wiggle %g; want ×1.15, 536,870,912 B, 0.92 within 1%%", file.ActivationFactor, file.OverheadBytes, file.Wiggle)
	}
	if file.EngineVersion != "2.4.1" || file.GPU != "NVIDIA A100-SXM4-80GB" || file.Fit.N != 10 || file.Fit.MedianAbsPctAfter > 0.01 || file.Fit.MedianAbsPctBefore < 0.5 {
		t.Errorf("file %+v", file)
	}

	// Without --gpu the file says nothing of the card: a usage error.
	if _, stderr, code := cmdtest.Run(t, Root, results); code != cmdutil.ExitUsage || !strings.Contains(stderr, "does not record its GPU") {
		t.Errorf("no --gpu: exit %d, %s", code, stderr)
	}
}

// TestCalibrateBadResultsFile: a corrupt line and a file validate did not
// write are errors naming the file and the line, each with a hint.
func TestCalibrateBadResultsFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, msg, hint string }{
		{"corrupt.jsonl", `{"run":"r","seq":1,"outcome":"ok"}` + "\n{\"run\":\"r\",\n" + `{"run":"r","seq":2,"outcome":"ok"}` + "\n",
			"calibrate corrupt.jsonl: line 2: corrupt results line: unexpected end of JSON input",
			"fix or delete that line of the results file, or leave the file out"},
		{"notes.jsonl", "my notes\n", "calibrate notes.jsonl: line 1: not a vramcalc results file: invalid character 'm' looking for beginning of value",
			"give validate results (*.jsonl) or startup-report CSVs (*.csv)"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := cmdtest.Run(t, Root, path, "--gpu", "L4")
		if code != cmdutil.ExitError || !strings.Contains(stderr, tc.msg+"\nvramcalc: hint: "+tc.hint) {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, stderr)
		}
	}
}
