package calibratecmd

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/validatecmd"
)

// TestCalibrateVLLMOnSimulator closes vLLM's loop on the real Docker
// Engine: validate --engine vllm runs against the vLLM simulator (its own
// memory model, from vLLM's source) with a hidden non-torch memory of
// 400 MB and then 1,400 MB, calibrate fits each run's starts, and the two
// fitted overheads differ by the planted 1,000,000,000 B within 1% (the
// sim charges its non-torch memory before the pool as vLLM does, so the
// difference is what calibrate must recover whatever the estimate's own
// constants); each corrected estimate then predicts its run's pool within
// 1%.
func TestCalibrateVLLMOnSimulator(t *testing.T) {
	cmdtest.Docker(t)
	image := cmdtest.SimImageFor(t, "vllmsim")
	dir := t.TempDir()
	fitted := map[int64]calibrate.File{}
	for _, hidden := range []int64{400_000_000, 1_400_000_000} {
		out := filepath.Join(dir, "v"+strconv.FormatInt(hidden, 10)+".jsonl")
		_, stderr, code := cmdtest.Run(t, validatecmd.Root, "meta-llama/Llama-3.1-8B-Instruct", "--engine", "vllm", "--engine-version", "0.21.0",
			"--gpu", "H100", "--gpu-ids", "none", "--image", image, "--offline", "--gpu-memory-utilization", "0.5", "--sim-gpus", "container:9400",
			"--env", "SIM_GPU_NAME=NVIDIA H100 80GB HBM3", "--env", "SIM_GPU_TOTAL_BYTES=85017755648", "--env", "SIM_EXTRA_OVERHEAD_BYTES="+strconv.FormatInt(hidden, 10),
			"--env", "SIM_STARTUP_DELAY=100ms", "--env", "SIM_TOKEN_DELAY=0s", "--out", out, "--health-timeout", "60s",
			"--input-tokens", "16", "--output-tokens", "4", "--concurrency", "1")
		if code != 0 {
			t.Fatalf("validate with %d B hidden: exit %d: %s", hidden, code, stderr)
		}
		corr := filepath.Join(dir, "c"+strconv.FormatInt(hidden, 10)+".json")
		if _, stderr, code := cmdtest.Run(t, Root, out, "--gpu", "H100", "--out", corr); code != 0 {
			t.Fatalf("calibrate: exit %d: %s", code, stderr)
		}
		f, err := os.Open(corr)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := calibrate.ReadFile(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("hidden %d B: fitted overhead %d B, graphs %d B, |error| median %.2f%% → %.2f%% over %d starts", hidden, cf.OverheadBytes, cf.CUDAGraphBytes,
			cf.Fit.MedianAbsPctBefore, cf.Fit.MedianAbsPctAfter, cf.Fit.N)
		if cf.Engine != "vllm" || cf.EngineVersion != "0.21.0" || cf.Fit.N < 3 || cf.Fit.P95AbsPctAfter > 1 {
			t.Errorf("corrections %+v", cf)
		}
		fitted[hidden] = cf
	}
	d := float64(fitted[1_400_000_000].OverheadBytes - fitted[400_000_000].OverheadBytes)
	if math.Abs(d-1e9) > 0.01*1e9 {
		t.Errorf("the fitted overheads differ by %.0f B, want 1,000,000,000 ± 1%%", d)
	}
}
