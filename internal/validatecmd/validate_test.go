package validatecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/nvml/driver"
	"github.com/vramcalc/vramcalc/probe"
	"github.com/vramcalc/vramcalc/probe/docker"
	"github.com/vramcalc/vramcalc/probe/results"
)

// simArgs validates Llama-3.1-8B on the simulator's L4, reading GPU memory
// from each container's /sim/gpus (the image's port 9400) on a host port
// the engine picks: the tests use no fixed host port.
func simArgs(image, out string) []string {
	return []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--gpu-ids", "none", "--image", image, "--offline",
		"--sim-gpus", "container:9400", "--env", "SIM_GPU_NAME=NVIDIA L4", "--env", "SIM_GPU_TOTAL_BYTES=23570219008",
		"--env", "SIM_EXTRA_OVERHEAD_BYTES=900000000", "--env", "SIM_ACTIVATION_FACTOR=1.2", "--env", "SIM_STARTUP_DELAY=200ms",
		"--out", out, "--health-timeout", "60s", "--input-tokens", "64", "--output-tokens", "16"}
}

// readObs reads the observations of a results file (its run headers are
// not observations).
func readObs(t *testing.T, path string) []probe.Observation {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := results.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obs
}

// TestValidateAgainstSimulator runs the whole validate flow on the real
// Docker Engine with the TGI simulator image: the edge of a simulated L4
// (hidden overhead 0.9 GB, activation ×1.2) is pinned to ±1%, every launch
// is recorded, and no container of the run is left.
func TestValidateAgainstSimulator(t *testing.T) {
	d := cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	out := filepath.Join(t.TempDir(), "sim.jsonl")
	stdout, stderr, code := cmdtest.Run(t, Root, simArgs(image, out)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// stderr is not a terminal: one plain line per event, no spinner, no warning.
	if strings.ContainsAny(stderr, "\r") || !strings.Contains(stderr, "launch 1: --max-total-tokens ") || strings.Contains(stderr, "warning") {
		t.Errorf("stderr:\n%q", stderr)
	}
	if !strings.Contains(stdout, "recommended --max-input-tokens ") || !strings.Contains(stdout, "started on 3 of 3 fresh launches in a row") {
		t.Errorf("no confirmed recommendation in:\n%s", stdout)
	}
	obs := readObs(t, out)
	if len(obs) < 3 || len(obs) > 5 {
		t.Errorf("%d launches, want 3–5", len(obs))
	}
	// The last three launches are the recommendation's confirmations.
	if n := len(obs); n >= 3 && (obs[n-1].Point != obs[n-3].Point || obs[n-2].Point != obs[n-3].Point || !obs[n-1].OK() || !obs[n-2].OK() || !obs[n-3].OK()) {
		t.Errorf("the last three launches do not confirm one value: %v %v %v", obs[n-3].Point, obs[n-2].Point, obs[n-1].Point)
	}
	for _, o := range obs {
		if o.OK() {
			// The default concurrency fills the reported budget: ⌊(budget − 1)/(64 + 16)⌋, at most 128.
			if o.Budget() == 0 || o.Requests.OK != o.Requests.Concurrency || o.MaxPeak() == 0 || o.PeakError != "" || o.Requests.Concurrency != min((o.Budget()-1)/80, 128) || len(o.LoadedBytes) == 0 ||
				// The peak until "KV-cache blocks" (the warm-up's) is read and is below the whole launch's.
				len(o.WarmupPeakBytes) == 0 || o.WarmupPeak() > o.MaxPeak() {
				t.Errorf("start without budget, requests or peak: %+v", o)
			}
		}
	}
	left, err := d.List(context.Background(), map[string]string{probe.RunLabel: obs[0].Run})
	if err != nil || len(left) != 0 {
		t.Errorf("containers left: %v %v", left, err)
	}
	t.Logf("%s", stdout)
}

// simContainers lists every container (running or not) made from image
// (a tag of this test alone: see simImage).
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

// obsCount counts the observations in a results file (0 while it is absent).
func obsCount(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	obs, _ := results.Read(bytes.NewReader(b))
	return len(obs)
}

// TestValidateInterrupt: Ctrl-C in the middle of a launch leaves no
// container behind (checked with the engine) and loses no finished launch.
func TestValidateInterrupt(t *testing.T) {
	d := cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	bin := filepath.Join(cmdtest.Build(t, "vramcalc", "vramcalc-validate"), "vramcalc")
	out := filepath.Join(t.TempDir(), "int.jsonl")
	args := append(simArgs(image, out), "--env", "SIM_STARTUP_DELAY=4s")
	cmd := exec.Command(bin, append([]string{"validate"}, args...)...)
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
	case err := <-done:
		// Ctrl-C exits 130 (128 + SIGINT), as shells and docker do.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitInterrupted {
			t.Errorf("exit after SIGINT: %v, want code %d", err, cmdutil.ExitInterrupted)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("validate did not stop within 60 s of SIGINT")
	}
	if left := simContainers(t, d, image); len(left) != 0 {
		t.Errorf("%d containers left after SIGINT: %+v", len(left), left)
	}
	if n := obsCount(out); n != 0 {
		t.Errorf("%d observations recorded for an interrupted first launch, want 0", n)
	}
}

// TestValidateKillAndResume: kill -9 after the first launch is recorded,
// then --resume: the left container is removed, no observation is lost or
// duplicated, and the recommendation is confirmed.
func TestValidateKillAndResume(t *testing.T) {
	d := cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	bin := filepath.Join(cmdtest.Build(t, "vramcalc", "vramcalc-validate"), "vramcalc")
	out := filepath.Join(t.TempDir(), "crash.jsonl")
	env := append(os.Environ(), "HF_HUB_OFFLINE=1", "HF_HOME="+t.TempDir())
	args := append(simArgs(image, out), "--env", "SIM_STARTUP_DELAY=1500ms")
	cmd := exec.Command(bin, append([]string{"validate"}, args...)...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first observation", 60*time.Second, func() bool { return obsCount(out) >= 1 })
	// The second launch is starting: kill the process without cleanup.
	waitFor(t, "the second container", 30*time.Second, func() bool { return len(simContainers(t, d, image)) > 0 })
	cmd.Process.Kill()
	cmd.Wait()
	first := readObs(t, out)

	resume := exec.Command(bin, append(append([]string{"validate"}, args...), "--resume")...)
	resume.Env = env
	if b, err := resume.CombinedOutput(); err != nil {
		t.Fatalf("--resume: %v\n%s", err, b)
	}
	obs := readObs(t, out)
	for i, o := range obs {
		// Launch numbers only grow: the killed launch's number is not
		// taken again (its container may still hold the name).
		if i > 0 && o.Seq <= obs[i-1].Seq {
			t.Errorf("observation %d has seq %d after %d: a launch recorded twice", i+1, o.Seq, obs[i-1].Seq)
		}
		if o.Run != first[0].Run {
			t.Errorf("run id changed across --resume: %s then %s", first[0].Run, o.Run)
		}
	}
	for i, o := range first {
		if obs[i].Point != o.Point || obs[i].Outcome != o.Outcome {
			t.Errorf("observation %d changed after resume", i)
		}
	}
	if n := len(obs); n < 3 || obs[n-1].Point != obs[n-3].Point || obs[n-2].Point != obs[n-3].Point || !obs[n-1].OK() || !obs[n-2].OK() || !obs[n-3].OK() {
		t.Errorf("after resume the recommendation is not confirmed: %d observations", len(obs))
	}
	if left := simContainers(t, d, image); len(left) != 0 {
		t.Errorf("%d containers left after resume", len(left))
	}
}

// TestValidateLaunchCountsOnSimulator confirms a recommendation on the
// simulator container (its own memory model, not the estimator's) for
// several models, GPUs and hidden coefficients, each within 5 launches,
// confirmations included.
func TestValidateLaunchCountsOnSimulator(t *testing.T) {
	cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
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
		args := []string{c.model, "--gpu", c.gpu, "--gpus", strconv.Itoa(c.gpus), "--gpu-ids", "none", "--image", image, "--offline",
			"--sim-gpus", "container:9400", "--env", "SIM_GPU_NAME=" + c.name, "--env", "SIM_GPU_TOTAL_BYTES=" + c.total, "--env", "SIM_NUM_GPUS=" + strconv.Itoa(c.gpus),
			"--env", "SIM_EXTRA_OVERHEAD_BYTES=" + c.overhead, "--env", "SIM_ACTIVATION_FACTOR=" + c.act, "--env", "SIM_WIGGLE=" + c.wiggle,
			"--env", "SIM_JITTER_BYTES=8000000", "--env", "SIM_SEED=" + strconv.Itoa(7+i), "--env", "SIM_STARTUP_DELAY=200ms", "--env", "SIM_TOKEN_DELAY=0s",
			"--out", out, "--health-timeout", "60s", "--input-tokens", "32", "--output-tokens", "8", "--concurrency", "2"}
		if i == 0 {
			args = append(args, "-o", "json")
		}
		stdout, stderr, code := cmdtest.Run(t, Root, args...)
		if code != 0 {
			t.Fatalf("%s on %d×%s: exit %d\n%s", c.model, c.gpus, c.gpu, code, stderr)
		}
		if i == 0 {
			// -o json: one object with the edge seen and every launch.
			var v struct {
				Recommended struct {
					MaxInputTokens        int `json:"max_input_tokens"`
					MaxTotalTokens        int `json:"max_total_tokens"`
					MaxBatchPrefillTokens int `json:"max_batch_prefill_tokens"`
				} `json:"recommended"`
				Confirmations   struct{ Tried, Started int } `json:"confirmations"`
				Confirmed       bool                         `json:"confirmed"`
				Launches        int                          `json:"launches"`
				LargestStart    int                          `json:"largest_start"`
				SmallestFailure int                          `json:"smallest_failure"`
				SpreadBytes     *int64                       `json:"spread_bytes"`
				Fragmented      *bool                        `json:"fragmented"`
				RunID           string                       `json:"run_id"`
				Observations    []json.RawMessage            `json:"observations"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("-o json: %v\n%s", err, stdout)
			}
			n := len(readObs(t, out))
			r := v.Recommended
			if v.Launches != n || len(v.Observations) != n || !v.Confirmed || v.Confirmations.Tried != 3 || v.Confirmations.Started != 3 ||
				r.MaxTotalTokens == 0 || r.MaxInputTokens != r.MaxTotalTokens-1 || r.MaxBatchPrefillTokens == 0 || r.MaxTotalTokens > v.LargestStart ||
				v.SpreadBytes == nil || v.Fragmented == nil || v.RunID == "" {
				t.Errorf("-o json: %+v with %d launches on disk", v, n)
			}
			continue
		}
		first := strings.SplitN(stdout, "\n", 2)[0]
		t.Log(first)
		if n := len(readObs(t, out)); n > 5 || !strings.Contains(first, "started on 3 of 3 fresh launches in a row") {
			t.Errorf("%s on %d×%s: %d launches: %s", c.model, c.gpus, c.gpu, n, first)
		}
	}
}

// TestParsePublish: --publish takes docker's -p order, HOST:CONTAINER or
// IP:HOST:CONTAINER with a loopback IP.
func TestParsePublish(t *testing.T) {
	lo2, lo6 := netip.MustParseAddr("127.0.0.2"), netip.IPv6Loopback()
	for _, tc := range []struct {
		in   string
		want probe.PortBinding
	}{
		{"9500:9400", probe.PortBinding{ContainerPort: 9400, HostPort: 9500}},
		{"8080:80/tcp", probe.PortBinding{ContainerPort: 80, HostPort: 8080}},
		{"127.0.0.2:9500:9400", probe.PortBinding{ContainerPort: 9400, HostPort: 9500, HostIP: lo2}},
		{"[::1]:9500:9400", probe.PortBinding{ContainerPort: 9400, HostPort: 9500, HostIP: lo6}},
		{"127.0.0.2::9400", probe.PortBinding{ContainerPort: 9400, HostIP: lo2}},
	} {
		got, err := parsePublish(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parsePublish(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"9400":                `--publish "9400": want HOST:CONTAINER`,
		"0.0.0.0:9500:9400":   `--publish "0.0.0.0:9500:9400": 0.0.0.0 is not a loopback address (containers publish on this machine only)`,
		"192.168.1.2:80:80":   `--publish "192.168.1.2:80:80": 192.168.1.2 is not a loopback address (containers publish on this machine only)`,
		"9500:9400/udp":       `--publish "9500:9400/udp": only tcp ports can be published`,
		"70000:80":            `--publish "70000:80": host port "70000" is not in 1..65535`,
		"9500:http":           `--publish "9500:http": container port "http" is not in 1..65535`,
		"localhost:9500:9400": `--publish "localhost:9500:9400": localhost is not a loopback address (containers publish on this machine only)`,
	} {
		_, err := parsePublish(in)
		if err == nil || err.Error() != want || !strings.Contains(cmdutil.Hint(err), "HOST:CONTAINER") {
			t.Errorf("parsePublish(%q) = %v, want %q with a hint", in, err, want)
		}
	}
}

// validationFor parses validate's flags and returns the inputs it builds,
// without a runtime.
func validationFor(t *testing.T, args ...string) (probe.Validation, error) {
	t.Helper()
	vars := map[string]string{"HF_HUB_OFFLINE": "1", "HF_HOME": t.TempDir()}
	e := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
	cmd := Command(e)
	var v probe.Validation
	cmd.Action = func(ctx context.Context, c *cli.Command) error {
		var err error
		v, err = validationInputs(ctx, c, e, c.Args().First())
		return err
	}
	err := cmd.Run(context.Background(), append([]string{"validate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--offline"}, args...))
	return v, err
}

// TestValidateFlags: --port, --publish and --sim-gpus container:PORT reach
// the launch config; a missing NVML becomes nvml.Unopened with Open's
// error, so that launches record why they have no peak.
func TestValidateFlags(t *testing.T) {
	v, err := validationFor(t, "--gpu-ids", "none", "--port", "8081", "--publish", "127.0.0.2:9500:9400", "--publish", "9401:9401",
		"--sim-gpus", "container:9400", "--out", "x.jsonl", "--resume")
	if err != nil {
		t.Fatal(err)
	}
	l := v.Launch
	wantPorts := []probe.PortBinding{{ContainerPort: 9400, HostPort: 9500, HostIP: netip.MustParseAddr("127.0.0.2")}, {ContainerPort: 9401, HostPort: 9401}}
	if l.EngineHostPort != 8081 || !reflect.DeepEqual(l.ExtraPorts, wantPorts) || l.SimGPUsPort != 9400 || l.Sampler != nil || l.GPUIDs != nil {
		t.Errorf("launch config: host port %d, extra %+v, sim port %d, sampler %v, GPU ids %v", l.EngineHostPort, l.ExtraPorts, l.SimGPUsPort, l.Sampler, l.GPUIDs)
	}
	if v.Results != "x.jsonl" || !v.Resume || v.Hardware.Count != 1 || v.Hardware.GPU.Name != "NVIDIA L4" || v.Model.Layers != 32 || l.Model != "meta-llama/Llama-3.1-8B-Instruct" {
		t.Errorf("validation %+v", v)
	}
	v, err = validationFor(t, "--gpu-ids", "none", "--sim-gpus", "http://127.0.0.1:9400/")
	if s, ok := v.Launch.Sampler.(*nvml.SimSampler); err != nil || !ok || s.BaseURL != "http://127.0.0.1:9400" || v.Launch.SimGPUsPort != 0 || v.Launch.EngineHostPort != 0 {
		t.Errorf("--sim-gpus URL: %#v, %v", v.Launch, err)
	}
	if _, openErr := driver.Open(); openErr != nil {
		v, err = validationFor(t, "--gpu-ids", "0")
		if u, ok := v.Launch.Sampler.(nvml.Unopened); err != nil || !ok || !errors.Is(u.Err, nvml.ErrUnavailable) || u.Err.Error() != openErr.Error() {
			t.Errorf("no NVML: sampler %#v, %v", v.Launch.Sampler, err)
		}
	}
	for args, want := range map[string]string{
		"--port 70000":                      "--port 70000 is not a port",
		"--sim-gpus container:x":            `--sim-gpus "container:x": "x" is not a container port`,
		"--publish 0.0.0.0:8080:80":         `--publish "0.0.0.0:8080:80": 0.0.0.0 is not a loopback address (containers publish on this machine only)`,
		"--publish 9400 --port 8081":        `--publish "9400": want HOST:CONTAINER`,
		"--output-tokens 2048 --port 8081":  "--output-tokens must be in 1..1024, got 2048",
		"--gpu-ids 0,x --sim-gpus http://h": `--gpu-ids: "x" is not a GPU index or UUID`,
	} {
		if _, err := validationFor(t, append([]string{"--gpu-ids", "none"}, strings.Fields(args)...)...); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

// phaseEvents are the events of one failing launch, then its observation
// and the run's one warning.
func phaseEvents() []probe.Event {
	p := probe.Point{MaxInputTokens: 22709, MaxTotalTokens: 22710, MaxBatchPrefillTokens: 8049}
	var evs []probe.Event
	for _, ph := range []string{"start", "loading", "warmup", "stop"} {
		evs = append(evs, probe.Event{Kind: probe.EventPhase, Launch: 2, Point: p, Phase: ph})
	}
	o := probe.Observation{Seq: 2, Point: p, Outcome: "failed", Failure: "warmup_oom"}
	return append(evs, probe.Event{Kind: probe.EventObserved, Launch: 2, Point: p, Observation: &o},
		probe.Event{Kind: probe.EventWarning, Launch: 2, Point: p, Warning: "launch 2: GPU memory not read from NVML: GPU 0: nvml: open: unavailable"})
}

// TestValidateProgressPlain: when stderr is not a terminal (a CI log, a
// pipe), every event is one plain line, with no spinner frame or carriage
// return.
func TestValidateProgressPlain(t *testing.T) {
	var b strings.Builder
	p := newValidateProgress(&b, false)
	p.event(probe.Event{Kind: probe.EventPull, Image: "vramcalc/tgisim:dev"})
	p.event(probe.Event{Kind: probe.EventCleanup, Container: "0a23ccefac942f7241b3db46203ef2bb"})
	ok := probe.Observation{Seq: 1, Outcome: "ok", Reported: probe.Reported{MaxBatchTotalTokensLog: 22460}}
	p.event(probe.Event{Kind: probe.EventObserved, Launch: 1, Point: probe.Point{MaxTotalTokens: 20000}, Observation: &ok})
	for _, ev := range phaseEvents() {
		p.event(ev)
	}
	p.finish()
	want := `pulling vramcalc/tgisim:dev
removed container 0a23ccefac94, left by the interrupted run
launch 1: --max-total-tokens 20,000: ok, KV budget 22,460
launch 2: --max-total-tokens 22,710: start
launch 2: --max-total-tokens 22,710: loading
launch 2: --max-total-tokens 22,710: warmup
launch 2: --max-total-tokens 22,710: stop
launch 2: --max-total-tokens 22,710: failed: warmup_oom
warning: launch 2: GPU memory not read from NVML: GPU 0: nvml: open: unavailable
`
	if b.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestValidateProgressTerminal: on a terminal the phases drive a spinner
// redrawn in place (carriage returns), with no line per phase; the
// spinner is cleared before the warning's own line, and at the end.
func TestValidateProgressTerminal(t *testing.T) {
	var b strings.Builder
	p := newValidateProgress(&b, true)
	for _, ev := range phaseEvents() {
		p.event(ev)
	}
	out := b.String()
	p.finish()
	if !strings.Contains(out, "\r") || !strings.Contains(out, "launch 2: --max-total-tokens 22,710: warmup") ||
		!strings.Contains(out, "\rwarning: launch 2: GPU memory not read from NVML: GPU 0: nvml: open: unavailable\n") {
		t.Errorf("terminal progress: %q", out)
	}
	if strings.Count(out, "launch 2: --max-total-tokens 22,710: start\n") != 0 || strings.Contains(out, "failed: warmup_oom") {
		t.Errorf("terminal progress printed plain lines: %q", out)
	}
	if !strings.HasSuffix(b.String(), "\r") {
		t.Errorf("spinner not cleared at the end: %q", b.String()[max(0, b.Len()-40):])
	}
}

// TestIsTerminal: a buffer, a pipe and a regular file are not terminals; a
// pseudo-terminal is.
func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, wr := range map[string]io.Writer{"buffer": &strings.Builder{}, "pipe": w, "file": f} {
		if isTerminal(wr) {
			t.Errorf("%s counts as a terminal", name)
		}
	}
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to check the positive case: %v", err)
	}
	defer pty.Close()
	if !isTerminal(pty) {
		t.Error("/dev/ptmx does not count as a terminal")
	}
}

// TestValidateWarnsWhenSimGPUsUnread: the simulator serves /sim/gpus on
// 9400, but validate is pointed at container port 9399: every launch
// records why it has no peak (peak_error) and stderr warns once.
func TestValidateWarnsWhenSimGPUsUnread(t *testing.T) {
	cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	out := filepath.Join(t.TempDir(), "unread.jsonl")
	args := append(simArgs(image, out), "--sim-gpus", "container:9399", "--max-launches", "2", "--confirm", "1")
	_, stderr, code := cmdtest.Run(t, Root, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	obs := readObs(t, out)
	if len(obs) != 2 {
		t.Fatalf("%d launches, want 2", len(obs))
	}
	for _, o := range obs {
		if len(o.PeakBytes) != 0 || !strings.HasPrefix(o.PeakError, "the simulator's /sim/gpus at http://127.0.0.1:") || !strings.Contains(o.PeakError, ": GPU 0: nvml: sample device 0: ") {
			t.Errorf("launch %d: peak %v, peak error %q", o.Seq, o.PeakBytes, o.PeakError)
		}
	}
	if n := strings.Count(stderr, "warning: "); n != 1 || !strings.Contains(stderr, "warning: launch 1: GPU memory not read from the simulator's /sim/gpus at http://127.0.0.1:") {
		t.Errorf("%d warnings in:\n%s", n, stderr)
	}
}
