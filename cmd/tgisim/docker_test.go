package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/simkit"
)

// TestDockerImage builds the image with build-image.sh under a tag of this
// test alone (another copy of the suite on the same engine neither shares
// nor removes it), runs it as `vramcalc validate` would (ports 80 and 9400
// published on free loopback ports), checks /health, the budget in the log
// and the gauge, stops it with SIGTERM and removes it and the tag. It
// skips when no Docker Engine answers (fails under VRAMCALC_REQUIRE_DOCKER=1).
func TestDockerImage(t *testing.T) {
	began := time.Now()
	c := cmdtest.StartSim(t, "tgisim", []int{80, 9400}, []string{"SIM_STARTUP_DELAY=50ms", "SIM_SEED=7"},
		"--model-id", "meta-llama/Llama-3.1-8B-Instruct", "--max-batch-prefill-tokens", "4096")
	base := c.URL(80)
	c.WaitOK(base+"/health", 15*time.Second)
	logs := c.Logs()
	m := regexp.MustCompile(`text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch total tokens to (\d+)`).FindStringSubmatch(logs)
	// The budget of TestWarmupBudget's first case: 447,684 + 4,096 blocks.
	if m == nil || m[1] != "451780" {
		t.Fatalf("budget line %v, want 451780; logs:\n%s", m, logs)
	}
	_, metrics, _ := cmdtest.HTTPGet(base + "/metrics")
	if n := metricValue(t, metrics, "tgi_batch_max_total_tokens"); strconv.FormatInt(n, 10) != m[1] {
		t.Errorf("gauge %d, log %s", n, m[1])
	}
	gpus := simGPUs(t, base)
	if len(gpus) != 1 || gpus[0].Used <= 0 || gpus[0].Total != simkit.DefaultGPUTotal {
		t.Errorf("/sim/gpus %+v", gpus)
	}
	// The image's side port (SIM_GPUS_PORT=9400) serves the same.
	if again := simGPUs(t, c.URL(9400)); len(again) != 1 || again[0] != gpus[0] {
		t.Errorf("side port /sim/gpus %+v, main %+v", again, gpus)
	}
	c.Stop()
	if logs := c.Logs(); !strings.Contains(logs, "Shutting down shards") {
		t.Errorf("no graceful shutdown in the logs:\n%s", logs)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Millisecond))
}
