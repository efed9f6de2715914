package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/probe"
	"github.com/vramcalc/vramcalc/probe/docker"
)

// dockerOrSkip returns a Docker runtime, or skips when no engine answers
// (CI has one: .ci/run checks it before the tests).
func dockerOrSkip(t *testing.T) *docker.Runtime {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
		skip = t.Fatalf // CI: a missing engine is a failure, not a skip
	}
	d, err := docker.New()
	if err != nil {
		skip("no Docker Engine: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		skip("no Docker Engine answers (%v): the validate integration test needs one", err)
	}
	return d
}

// simImage builds the TGI simulator image FROM scratch (no registry needed).
func simImage(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("sh", filepath.Join("..", "tgisim", "build-image.sh"), "vramcalc/tgisim:test").CombinedOutput()
	if err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	return "vramcalc/tgisim:test"
}

func simArgs(image, out string, port string) []string {
	return []string{"validate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--gpu-ids", "none", "--image", image, "--offline",
		"--sim-gpus", "http://127.0.0.1:" + port, "--publish", port + ":" + port, "--env", "SIM_GPUS_PORT=" + port,
		"--env", "SIM_GPU_NAME=NVIDIA L4", "--env", "SIM_GPU_TOTAL_BYTES=23570219008",
		"--env", "SIM_EXTRA_OVERHEAD_BYTES=900000000", "--env", "SIM_ACTIVATION_FACTOR=1.2", "--env", "SIM_STARTUP_DELAY=200ms",
		"--out", out, "--health-timeout", "60s", "--input-tokens", "64", "--output-tokens", "16"}
}

func readObs(t *testing.T, path string) []probe.Observation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []probe.Observation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var o probe.Observation
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, o)
	}
	return out
}

// TestValidateAgainstSimulator runs the whole validate flow on the real
// Docker Engine with the TGI simulator image: the edge of a simulated L4
// (hidden overhead 0.9 GB, activation ×1.2) is pinned to ±1%, every launch
// is recorded, and no container of the run is left.
func TestValidateAgainstSimulator(t *testing.T) {
	d := dockerOrSkip(t)
	image := simImage(t)
	out := filepath.Join(t.TempDir(), "sim.jsonl")
	stdout, stderr, code := runCLI(t, simArgs(image, out, "9401")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "boundary") || !strings.Contains(stdout, "±1%") {
		t.Errorf("no pinned boundary in:\n%s", stdout)
	}
	obs := readObs(t, out)
	if len(obs) < 2 || len(obs) > 5 {
		t.Errorf("%d launches, want 2–5", len(obs))
	}
	var ok, failed int
	for _, o := range obs {
		if o.OK() {
			ok++
			// The default concurrency fills the reported budget: ⌊(budget − 1)/(64 + 16)⌋, at most 128.
			if o.Budget() == 0 || o.Requests.OK != o.Requests.Concurrency || o.MaxPeak() == 0 || o.Requests.Concurrency != min((o.Budget()-1)/80, 128) || len(o.LoadedBytes) == 0 {
				t.Errorf("start without budget, requests or peak: %+v", o)
			}
		} else {
			failed++
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d starts, %d failures: the edge was not straddled", ok, failed)
	}
	left, err := d.List(context.Background(), map[string]string{probe.RunLabel: obs[0].Run})
	if err != nil || len(left) != 0 {
		t.Errorf("containers left: %v %v", left, err)
	}
	t.Logf("%s", stdout)
}

// buildCLI builds the vramcalc binary for the process-level tests.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vramcalc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// simContainers lists every container (running or not) made from image.
func simContainers(t *testing.T, d *docker.Runtime, image string) []probe.Container {
	t.Helper()
	all, err := d.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []probe.Container
	for _, c := range all {
		if c.Image == image {
			out = append(out, c)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lineCount(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// TestValidateInterrupt: Ctrl-C in the middle of a launch leaves no
// container behind (checked with the engine) and loses no finished launch.
func TestValidateInterrupt(t *testing.T) {
	d := dockerOrSkip(t)
	image := simImage(t)
	bin := buildCLI(t)
	out := filepath.Join(t.TempDir(), "int.jsonl")
	args := append(simArgs(image, out, "9402"), "--env", "SIM_STARTUP_DELAY=4s")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "HF_HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the first container runs, mid warm-up.
	waitFor(t, "a running simulator container", 30*time.Second, func() bool { return len(simContainers(t, d, image)) > 0 })
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("validate did not stop within 60 s of SIGINT")
	}
	if left := simContainers(t, d, image); len(left) != 0 {
		t.Errorf("%d containers left after SIGINT: %+v", len(left), left)
	}
	if n := lineCount(out); n != 0 {
		t.Errorf("%d observations recorded for an interrupted first launch, want 0", n)
	}
}

// TestValidateKillAndResume: kill -9 after the first launch is recorded,
// then --resume: the left container is removed, no observation is lost or
// duplicated, and the edge is still pinned.
func TestValidateKillAndResume(t *testing.T) {
	d := dockerOrSkip(t)
	image := simImage(t)
	bin := buildCLI(t)
	out := filepath.Join(t.TempDir(), "crash.jsonl")
	env := append(os.Environ(), "HF_HUB_OFFLINE=1", "HF_HOME="+t.TempDir())
	args := append(simArgs(image, out, "9403"), "--env", "SIM_STARTUP_DELAY=1500ms")
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first observation", 60*time.Second, func() bool { return lineCount(out) >= 1 })
	// The second launch is starting: kill the process without cleanup.
	waitFor(t, "the second container", 30*time.Second, func() bool { return len(simContainers(t, d, image)) > 0 })
	cmd.Process.Kill()
	cmd.Wait()
	first := readObs(t, out)

	resume := exec.Command(bin, append(args, "--resume")...)
	resume.Env = env
	if b, err := resume.CombinedOutput(); err != nil {
		t.Fatalf("--resume: %v\n%s", err, b)
	}
	obs := readObs(t, out)
	seen := map[string]bool{}
	for _, o := range obs {
		if seen[o.Point.Key()] {
			t.Errorf("point %s recorded twice", o.Point.Key())
		}
		seen[o.Point.Key()] = true
		if o.Run != first[0].Run {
			t.Errorf("run id changed across --resume: %s then %s", first[0].Run, o.Run)
		}
	}
	for i, o := range first {
		if obs[i].Point != o.Point || obs[i].Outcome != o.Outcome {
			t.Errorf("observation %d changed after resume", i)
		}
	}
	var ok, failed bool
	for _, o := range obs {
		ok = ok || o.OK()
		failed = failed || !o.OK()
	}
	if !ok || !failed {
		t.Errorf("after resume the edge is not straddled: %d observations", len(obs))
	}
	if left := simContainers(t, d, image); len(left) != 0 {
		t.Errorf("%d containers left after resume", len(left))
	}
}

// TestValidateLaunchCountsOnSimulator pins the edge of the simulator
// container (its own memory model, not the estimator's) for several models,
// GPUs and hidden coefficients, each within 5 launches.
func TestValidateLaunchCountsOnSimulator(t *testing.T) {
	dockerOrSkip(t)
	image := simImage(t)
	cases := []struct {
		model, gpu, name, total string
		gpus                    int
		overhead, act, wiggle   string
	}{
		{"meta-llama/Llama-3.1-8B-Instruct", "L4", "NVIDIA L4", "23570219008", 1, "400000000", "1.5", "0.89"},
		{"meta-llama/Llama-3.1-8B-Instruct", "A10G", "NVIDIA A10G", "23684186112", 1, "1200000000", "1.1", "0.91"},
		{"meta-llama/Llama-3.3-70B-Instruct", "H100", "NVIDIA H100 80GB HBM3", "85017755648", 2, "900000000", "1.4", "0.90"},
		{"meta-llama/Llama-3.3-70B-Instruct", "A100-80GB", "NVIDIA A100-SXM4-80GB", "85100068864", 2, "600000000", "1.2", "0.92"},
	}
	for i, c := range cases {
		out := filepath.Join(t.TempDir(), "n.jsonl")
		port := strconv.Itoa(9410 + i)
		args := []string{"validate", c.model, "--gpu", c.gpu, "--gpus", strconv.Itoa(c.gpus), "--gpu-ids", "none", "--image", image, "--offline",
			"--sim-gpus", "http://127.0.0.1:" + port, "--publish", port + ":" + port, "--env", "SIM_GPUS_PORT=" + port,
			"--env", "SIM_GPU_NAME=" + c.name, "--env", "SIM_GPU_TOTAL_BYTES=" + c.total, "--env", "SIM_NUM_GPUS=" + strconv.Itoa(c.gpus),
			"--env", "SIM_EXTRA_OVERHEAD_BYTES=" + c.overhead, "--env", "SIM_ACTIVATION_FACTOR=" + c.act, "--env", "SIM_WIGGLE=" + c.wiggle,
			"--env", "SIM_JITTER_BYTES=8000000", "--env", "SIM_SEED=" + strconv.Itoa(7+i), "--env", "SIM_STARTUP_DELAY=200ms", "--env", "SIM_TOKEN_DELAY=0s",
			"--out", out, "--health-timeout", "60s", "--input-tokens", "32", "--output-tokens", "8", "--concurrency", "2"}
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s on %d×%s: exit %d\n%s", c.model, c.gpus, c.gpu, code, stderr)
		}
		first := strings.SplitN(stdout, "\n", 2)[0]
		t.Log(first)
		if n := len(readObs(t, out)); n > 5 || !strings.Contains(first, "±1%") {
			t.Errorf("%s on %d×%s: %d launches: %s", c.model, c.gpus, c.gpu, n, first)
		}
	}
}
