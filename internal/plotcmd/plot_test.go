package plotcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

const plotModel = "meta-llama/Llama-3.1-8B-Instruct"

// checkPicture checks a written PNG or SVG by its first bytes and size.
func checkPicture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 5000 {
		t.Errorf("%s: only %d bytes", path, len(b))
	}
	switch filepath.Ext(path) {
	case ".png":
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s: not a PNG: % x", path, b[:8])
		}
	case ".svg":
		if !bytes.Contains(b[:min(len(b), 500)], []byte("<svg")) {
			t.Errorf("%s: no <svg in %q", path, b[:min(len(b), 200)])
		}
	}
	return b
}

func TestPlotRegion(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "results.jsonl")
	// The run header (line 1) is no observation: 2 ok and 1 OOM are drawn.
	os.WriteFile(obs, []byte(`{"kind":"run","run":"r","model":"m","engine":"tgi","image":"i","settings":{}}
{"run":"r","seq":1,"engine":"tgi","point":{"max_input_tokens":4095,"max_total_tokens":4096},"outcome":"ok"}
{"run":"r","seq":2,"engine":"tgi","point":{"max_input_tokens":2000,"max_total_tokens":10000},"outcome":"ok"}
{"run":"r","seq":3,"engine":"tgi","point":{"max_input_tokens":16383,"max_total_tokens":16384},"outcome":"failed","failure":"warmup_oom"}
`), 0o644)
	for _, name := range []string{"region.png", "region.svg"} {
		out := filepath.Join(dir, name)
		stdout, errOut, code := cmdtest.Run(t, Root, "region", plotModel, "--gpu", "L4", "--observations", obs, "--out", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		// 40 steps of 26,881/40 = 672 tokens with input + output ≤ 26,881
		// (the boundary 21,505 + 25%): 39+38+…+1 = 780 points.
		if want := "383 of 780 grid points start; largest max-total-tokens 21505"; !strings.Contains(stdout, want) {
			t.Errorf("stdout %q, want %q", stdout, want)
		}
		b := checkPicture(t, out)
		if filepath.Ext(name) == ".svg" {
			for _, s := range []string{"max input tokens", "observed: ok (2)", "observed: OOM (1)", "table&#39;s boundary: --max-total-tokens 21,505 with --max-input-tokens = total − 1", "boundary: largest --max-total-tokens for each --max-input-tokens"} {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("svg has no %q", s)
				}
			}
		}
	}
}

// The grid's fitting and non-fitting points are estimate.Run's own answers,
// and nothing past the boundary starts.
func TestRegionGridMatchesEstimate(t *testing.T) {
	meta, err := (&hfmeta.Client{Offline: true}).FromCatalog(plotModel)
	if err != nil {
		t.Fatal(err)
	}
	sku, _ := gpus.Lookup("L4")
	hw := estimate.Hardware{GPU: sku.GPU, Count: 1}
	eng := estimate.Engine{Name: "tgi"}
	g, err := computeRegion(meta.Model, hw, eng, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	fit, nofit := 0, 0
	for _, pt := range g.Points {
		r, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{MaxInputTokens: pt.Input, MaxTotalTokens: pt.Input + pt.Output, MaxBatchPrefillTokens: g.Prefill})
		ok := err == nil && r.Startup.Fits
		if ok != pt.Fits {
			t.Errorf("(%d, %d): grid %v, estimate %v", pt.Input, pt.Output, pt.Fits, ok)
		}
		if ok {
			fit++
			if e := edgeAt(g, pt.Input); pt.Output > e {
				t.Errorf("(%d, %d) starts above the drawn boundary %d", pt.Input, pt.Output, e)
			}
		} else {
			nofit++
		}
	}
	gf, gn := g.Count()
	if gf != fit || gn != nofit {
		t.Errorf("Count %d/%d, estimate %d/%d", gf, gn, fit, nofit)
	}
	// The drawn boundary is estimate's largest total for each input.
	for _, e := range g.Edge {
		r, err := estimate.Run(meta.Model, hw, eng, estimate.Settings{MaxInputTokens: e.Input, MaxBatchPrefillTokens: g.Prefill})
		if err != nil || (e.Output >= 0 && r.Boundary.MaxTotalTokens-e.Input != e.Output) {
			t.Errorf("edge at input %d: %d, estimate %d (%v)", e.Input, e.Output, r.Boundary.MaxTotalTokens, err)
		}
	}
	// 20 steps of 1,344 tokens: 19+18+…+1 = 190 points, 95 of them start.
	if g.TMax != 21505 || g.Step != 1344 || fit+nofit != 190 || fit != 95 || g.Prefill != 8049 {
		t.Errorf("TMax %d, step %d, %d fit of %d", g.TMax, g.Step, fit, fit+nofit)
	}
}

func TestPlotBreakdown(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"breakdown.png", "breakdown.svg"} {
		out := filepath.Join(dir, name)
		stdout, errOut, code := cmdtest.Run(t, Root, "breakdown", plotModel, "--gpu", "L4,H100", "--out", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(stdout, "2 bar(s)") {
			t.Errorf("stdout %q", stdout)
		}
		b := checkPicture(t, out)
		if filepath.Ext(name) == ".svg" {
			for _, s := range []string{"L4", "H100", "weights", "KV cache", "activation peak", "card memory", "GiB per GPU", "22.0 GiB", "79.2 GiB"} {
				if !bytes.Contains(b, []byte(s)) {
					t.Errorf("svg has no %q", s)
				}
			}
		}
	}
	out := filepath.Join(dir, "vllm.svg")
	if _, errOut, code := cmdtest.Run(t, Root, "breakdown", plotModel, "--gpu", "H100", "--gpus", "2", "--engine", "vllm", "--out", out); code != 0 {
		t.Fatalf("vllm: exit %d: %s", code, errOut)
	}
	checkPicture(t, out)
}

func TestPlotErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.jsonl")
	if err := os.WriteFile(corrupt, []byte(`{"run":"r","seq":1,"outcome":"ok"}`+"\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plot", "region", plotModel, "--gpu", "L4"}, cmdutil.ExitUsage, "--out is required"},
		{[]string{"plot", "region", plotModel, "--gpu", "L4", "--out", filepath.Join(dir, "x.pdf")}, cmdutil.ExitUsage, "unknown picture format"},
		{[]string{"plot", "breakdown", "--gpu", "L4", "--out", filepath.Join(dir, "x.png")}, cmdutil.ExitUsage, "takes one MODEL argument"},
		{[]string{"plot", "breakdown", plotModel, "--gpu", "L4", "--engine", "foo", "--out", filepath.Join(dir, "x.png")}, cmdutil.ExitUsage, `unknown engine "foo"`},
		{[]string{"plot", "region", plotModel, "--gpu", "L4", "--observations", filepath.Join(dir, "none.jsonl"), "--out", filepath.Join(dir, "x.png")}, cmdutil.ExitError, "--observations"},
		{[]string{"plot", "region", plotModel, "--out", filepath.Join(dir, "x.png")}, cmdutil.ExitUsage, "--gpu or --vram is required"},
		{[]string{"plot", "region", plotModel, "--gpu", "L4", "--observations", corrupt, "--out", filepath.Join(dir, "x.png")}, cmdutil.ExitError,
			"--observations corrupt.jsonl: line 2: corrupt results line: invalid character 'o' in literal null (expecting 'u')\nvramcalc: hint: fix or delete that line of the results file"},
	} {
		_, errOut, code := cmdtest.Run(t, Root, tc.args[1:]...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) || !strings.Contains(errOut, "hint:") {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

// edgeAt is the drawn boundary's output at a grid input.
func edgeAt(g regionGrid, input int) int {
	for _, e := range g.Edge {
		if e.Input == input {
			return e.Output
		}
	}
	return -1
}
