package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
)

// TestDockerImage builds the image under a tag of this test alone, runs
// it as probe would (`IMAGE MODEL --max-model-len … --port 8000`, ports on
// free loopback ports), reads the sizing and readiness lines, GETs /health
// and /metrics, stops it (exit 0) and removes it. It skips without a
// Docker Engine and fails without one under VRAMCALC_REQUIRE_DOCKER=1.
func TestDockerImage(t *testing.T) {
	c := cmdtest.StartSim(t, "vllmsim", []int{8000}, []string{"SIM_STARTUP_DELAY=50ms", "SIM_GPU_TOTAL_BYTES=80GiB"},
		"meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--gpu-memory-utilization", "0.9")
	base := c.URL(8000)
	c.WaitOK(base+"/health", 20*time.Second)
	logs := c.Logs()
	// TestSimulateLlama8B's first case.
	for _, want := range []string{"Available KV cache memory: 54.46 GiB", "GPU KV cache size: 446,144 tokens", "INFO:     Application startup complete."} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if _, metrics, _ := cmdtest.HTTPGet(base + "/metrics"); !strings.Contains(metrics, `num_gpu_blocks="27884"`) {
		t.Errorf("metrics:\n%s", metrics)
	}
	c.Stop()
}
