package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
)

// TestDockerImage builds the image under a tag of this test alone, runs
// it as probe would (`IMAGE python3 -m sglang.launch_server --model-path M …`, ports on
// free loopback ports), reads the sizing and readiness lines, GETs /health
// and /metrics, stops it (exit 0) and removes it. It skips without a
// Docker Engine and fails without one under VRAMCALC_REQUIRE_DOCKER=1.
func TestDockerImage(t *testing.T) {
	c := cmdtest.StartSim(t, "sglangsim", []int{30000}, []string{"SIM_STARTUP_DELAY=50ms", "SIM_GPU_TOTAL_BYTES=80GiB"},
		"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--context-length", "8192",
		"--host", "0.0.0.0", "--port", "30000", "--enable-metrics")
	base := c.URL(30000)
	c.WaitOK(base+"/health", 20*time.Second)
	logs := c.Logs()
	// TestStartLlama8B's first case.
	for _, want := range []string{"KV Cache is allocated. dtype: torch.bfloat16, #tokens: 421924,", "max_total_num_tokens=421924,", "The server is fired up and ready to roll!"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if _, metrics, _ := cmdtest.HTTPGet(base + "/metrics"); !strings.Contains(metrics, "sglang:max_total_num_tokens{") || !strings.Contains(metrics, "} 421924.0") {
		t.Errorf("metrics:\n%s", metrics)
	}
	c.Stop()
}
