package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vramcalc/vramcalc/internal/calccmd"
)

// TestTGIStartupReports checks the estimate against the credible TGI rows of
// shared/data/startup_reports_dev.csv ("Setting max batch total tokens to N"),
// with each row's settings. Rows 6 (JumpStart container, settings unknown)
// and 7 (marked DOUBTFUL) are left out.
func TestTGIStartupReports(t *testing.T) {
	rows := []struct {
		row      int
		args     []string
		reported int
	}{
		// Row 3: TGI 2.0.0, Mistral-7B, 1×A100 80GB, T 8512, I 8000, P 32768.
		{3, []string{"mistralai/Mistral-7B-v0.1", "--gpu", "A100-80GB", "--engine-version", "2.0.0",
			"--max-input-tokens", "8000", "--max-total-tokens", "8512", "--max-batch-prefill-tokens", "32768"}, 425_472},
		// Row 9: TGI 2.0.3, Swallow-7b-hf (fp16), 1×A10, defaults 4095 / 4096 / 4145.
		{9, []string{"tokyotech-llm/Swallow-7b-hf", "--gpu", "A10", "--engine-version", "2.0.3"}, 15_232},
	}
	for _, r := range rows {
		out, errOut, code := runCLI(t, append([]string{"estimate", "-o", "json"}, r.args...)...)
		if code != 0 {
			t.Fatalf("row %d: %s", r.row, errOut)
		}
		var rep calccmd.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		got := rep.Startup.MaxBatchTotalTokens
		e := float64(got-r.reported) / float64(r.reported) * 100
		t.Logf("row %d: reported %d, predicted %d (%+.1f%%)", r.row, r.reported, got, e)
		if e < -5 || e > 5 {
			t.Errorf("row %d: predicted %d, reported %d: error %+.1f%% beyond ±5%%", r.row, got, r.reported, e)
		}
	}
}

// BenchmarkProcessEstimate times the whole process, `vramcalc estimate` on
// the embedded catalog, as a user runs it (bench/startup.sh compares it
// with a hello-world process side by side; estimate.BenchmarkRunCatalog
// times one estimate.Run per catalog model and engine).
func BenchmarkProcessEstimate(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "vramcalc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "HF_HUB_OFFLINE=1", "HF_HOME="+b.TempDir())
	for b.Loop() {
		cmd := exec.Command(bin, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}
