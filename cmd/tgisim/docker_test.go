package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// TestDockerImage builds the image with build-image.sh under a tag of this
// test alone (another copy of the suite on the same engine neither shares
// nor removes it), runs it as `vramcalc validate` would (ports 80 and 9400
// published on free loopback ports), checks /health, the budget in the log
// and the gauge, stops it with SIGTERM and removes it and the tag. It
// skips when no Docker Engine answers (fails under VRAMCALC_REQUIRE_DOCKER=1).
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Docker image test")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine answers (docker info: %v: %s), and CI requires one", err, strings.TrimSpace(string(out)))
		}
		t.Skipf("no Docker Engine answers (docker info: %v: %s); skipping the image test", err, strings.TrimSpace(string(out)))
	}
	docker := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	image := fmt.Sprintf("vramcalc/tgisim:test-%d-%d", os.Getpid(), time.Now().UnixNano())
	bctx, bcancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer bcancel()
	if out, err := exec.CommandContext(bctx, "./build-image.sh", image).CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// After the container's removal (cleanups run last first).
		if out, err := exec.Command("docker", "image", "rm", image).CombinedOutput(); err != nil {
			t.Logf("remove %s: %v: %s", image, err, out)
		}
	})
	built := time.Since(began)

	id := docker("run", "-d", "-p", "127.0.0.1::80", "-p", "127.0.0.1::9400", "--label", "vramcalc.test=tgisim",
		"-e", "SIM_STARTUP_DELAY=50ms", "-e", "SIM_SEED=7",
		image, "--model-id", "meta-llama/Llama-3.1-8B-Instruct", "--max-batch-prefill-tokens", "4096")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	hostPort := docker("port", id, "80/tcp")
	// "127.0.0.1:49153", possibly followed by an IPv6 line.
	base := "http://" + strings.SplitN(hostPort, "\n", 2)[0]

	deadline := time.Now().Add(15 * time.Second)
	for {
		if status, _, err := tryGet(base + "/health"); err == nil && status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /health 200 after 15s; logs:\n%s", docker("logs", id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := docker("logs", id)
	m := regexp.MustCompile(`text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch total tokens to (\d+)`).FindStringSubmatch(logs)
	// The budget of TestWarmupBudget's first case: 447,684 + 4,096 blocks.
	if m == nil || m[1] != "451780" {
		t.Fatalf("budget line %v, want 451780; logs:\n%s", m, logs)
	}
	_, metrics, _ := tryGet(base + "/metrics")
	if n := metricValue(t, metrics, "tgi_batch_max_total_tokens"); strconv.FormatInt(n, 10) != m[1] {
		t.Errorf("gauge %d, log %s", n, m[1])
	}
	gpus := simGPUs(t, base)
	if len(gpus) != 1 || gpus[0].Used <= 0 || gpus[0].Total != simkit.DefaultGPUTotal {
		t.Errorf("/sim/gpus %+v", gpus)
	}
	// The image's side port (SIM_GPUS_PORT=9400) serves the same.
	side := "http://" + strings.SplitN(docker("port", id, "9400/tcp"), "\n", 2)[0]
	if again := simGPUs(t, side); len(again) != 1 || again[0] != gpus[0] {
		t.Errorf("side port /sim/gpus %+v, main %+v", again, gpus)
	}

	docker("stop", "-t", "10", id)
	if code := docker("inspect", "-f", "{{.State.ExitCode}}", id); code != "0" {
		t.Errorf("exit code after docker stop %s, want 0", code)
	}
	if logs := docker("logs", id); !strings.Contains(logs, "Shutting down shards") {
		t.Errorf("no graceful shutdown in the logs:\n%s", logs)
	}
	t.Logf("image built in %s; whole test %s", built.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// tryGet is an HTTP GET that returns its error instead of failing the test.
func tryGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
