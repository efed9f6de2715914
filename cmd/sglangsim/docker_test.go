package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	if testing.Short() {
		t.Skip("-short: skipping the Docker image test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine answers (%v: %s), and CI requires one", err, strings.TrimSpace(string(out)))
		}
		t.Skipf("no Docker Engine answers (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	image := cmdtest.SimImageFor(t, "sglangsim")
	id := dockerRun(t, "run", "-d", "-p", "127.0.0.1::30000", "--label", "vramcalc.test=sglangsim",
		"-e", "SIM_STARTUP_DELAY=50ms", "-e", "SIM_GPU_TOTAL_BYTES=80GiB", image,
		"python3", "-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--context-length", "8192",
		"--host", "0.0.0.0", "--port", "30000", "--enable-metrics")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", id).Run() })
	base := "http://" + strings.SplitN(dockerRun(t, "port", id, "30000/tcp"), "\n", 2)[0]
	deadline := time.Now().Add(20 * time.Second)
	for {
		if status, _ := httpGet(base + "/health"); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /health 200 after 20s; logs:\n%s", dockerRun(t, "logs", id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := dockerRun(t, "logs", id)
	// TestStartLlama8B's first case.
	for _, want := range []string{"KV Cache is allocated. dtype: torch.bfloat16, #tokens: 421924,", "max_total_num_tokens=421924,", "The server is fired up and ready to roll!"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if _, metrics := httpGet(base + "/metrics"); !strings.Contains(metrics, "sglang:max_total_num_tokens{") || !strings.Contains(metrics, "} 421924.0") {
		t.Errorf("metrics:\n%s", metrics)
	}
	dockerRun(t, "stop", "-t", "10", id)
	if code := dockerRun(t, "inspect", "-f", "{{.State.ExitCode}}", id); code != "0" {
		t.Errorf("exit code after docker stop %s, want 0", code)
	}
}

func dockerRun(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func httpGet(url string) (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
