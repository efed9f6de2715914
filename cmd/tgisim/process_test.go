package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// TestMain lets the test binary act as the launcher: the process tests
// re-execute it with TGISIM_TEST_AS_LAUNCHER=1.
func TestMain(m *testing.M) {
	if os.Getenv("TGISIM_TEST_AS_LAUNCHER") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// launcher is the simulator running as a child process.
type launcher struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

// startLauncher runs the launcher with only the given environment (plus
// HOME in a temporary directory, so no real Hugging Face cache is read).
func startLauncher(t *testing.T, env map[string]string, args ...string) *launcher {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// GOCOVERDIR: under go test -cover the child is a coverage build too,
	// which without it warns on stderr at exit.
	cmd.Env = []string{"TGISIM_TEST_AS_LAUNCHER=1", "HOME=" + t.TempDir(), "GOCOVERDIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	l := &launcher{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = l.stdout, l.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		l.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			l.code = ee.ExitCode()
		}
		close(l.done)
	}()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			cmd.Process.Kill()
			<-l.done
		}
	})
	return l
}

func (l *launcher) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-l.done:
		return l.code
	case <-time.After(d):
		t.Fatalf("launcher still running after %s; stdout:\n%s", d, l.stdout)
		return -1
	}
}

// waitFor polls stdout until it contains s.
func (l *launcher) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(l.stdout.String(), s) {
			return
		}
		select {
		case <-l.done:
			t.Fatalf("launcher exited %d before %q; stdout:\n%s\nstderr:\n%s", l.code, s, l.stdout, l.stderr)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("no %q after %s; stdout:\n%s", s, d, l.stdout)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// inOrder reports the first of want not found after the previous one.
func inOrder(out string, want ...string) string {
	pos := 0
	for _, w := range want {
		i := strings.Index(out[pos:], w)
		if i < 0 {
			return w
		}
		pos += i + len(w)
	}
	return ""
}

func TestProcessWarmupOOM(t *testing.T) {
	l := startLauncher(t, map[string]string{
		"SIM_MODEL":           fixtures + "/sim-model.json",
		"SIM_GPU_TOTAL_BYTES": "24GiB",
		"SIM_STARTUP_DELAY":   "20ms",
	}, "--model-id", "meta-llama/Llama-3.1-8B-Instruct", "--max-batch-prefill-tokens", "65536", "--hostname", "127.0.0.1", "--port", freePort(t))
	if code := l.wait(t, 10*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	out := l.stdout.String()
	if miss := inOrder(out,
		"INFO text_generation_router_v3: backends/v3/src/lib.rs:125: Warming up model",
		"ERROR text_generation_launcher: Method Warmup encountered an error.\nTraceback (most recent call last):",
		"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate ",
		"RuntimeError: Not enough memory to handle 65536 prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
		"ERROR warmup{max_input_length=None max_prefill_tokens=65536 max_total_tokens=None max_batch_size=None}:warmup: text_generation_router_v3::client: backends/v3/src/client/mod.rs:45: Server error: Not enough memory to handle 65536 prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
		"Error: Backend(Warmup(Generation(\"Not enough memory to handle 65536 prefill tokens. You need to decrease `--max-batch-prefill-tokens`\")))",
		"ERROR text_generation_launcher: Webserver Crashed",
		"INFO text_generation_launcher: Shutting down shards",
		"ERROR shard-manager: text_generation_launcher: Shard complete standard error output:",
	); miss != "" {
		t.Errorf("stdout lacks (in order) %q:\n%s", miss, out)
	}
	if strings.Contains(out, "Setting max batch total tokens") || strings.Contains(out, "Connected") {
		t.Errorf("a failed warm-up must not serve:\n%s", out)
	}
	if got := l.stderr.String(); got != "Error: WebserverFailed\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestProcessShardCannotStart(t *testing.T) {
	l := startLauncher(t, map[string]string{
		"SIM_MODEL":           fixtures + "/sim-model.json",
		"SIM_GPU_TOTAL_BYTES": "15GiB",
		"SIM_STARTUP_DELAY":   "10ms",
	}, "--max-batch-prefill-tokens", "4096", "--port", freePort(t))
	if code := l.wait(t, 10*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if miss := inOrder(l.stdout.String(),
		"ERROR text_generation_launcher: Error when initializing model",
		"torch.OutOfMemoryError: CUDA out of memory.",
		"ERROR shard-manager: text_generation_launcher: Shard complete standard error output:",
		"rank=0",
		"ERROR text_generation_launcher: Shard 0 failed to start",
		"INFO text_generation_launcher: Shutting down shards",
	); miss != "" {
		t.Errorf("stdout lacks %q:\n%s", miss, l.stdout)
	}
	if got := l.stderr.String(); got != "Error: ShardCannotStart\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestProcessCommandLineErrors(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--max-input-tokens", "4096", "--max-total-tokens", "1024"}, 1,
			"Error: ArgumentValidation(\"`max_input_tokens`(4096) must be < `max_total_tokens`(1024)\")\n"},
		{[]string{"--max-batch-prefill-token", "4096"}, 2,
			"error: unexpected argument '--max-batch-prefill-token' found\n\nUsage: text-generation-launcher [OPTIONS]\n\nFor more information, try '--help'.\n"},
	}
	for _, tt := range tests {
		l := startLauncher(t, map[string]string{"SIM_MODEL": fixtures + "/sim-model.json"}, tt.args...)
		if code := l.wait(t, 5*time.Second); code != tt.code {
			t.Errorf("%v: exit code %d, want %d", tt.args, code, tt.code)
		}
		if got := l.stderr.String(); got != tt.stderr {
			t.Errorf("%v: stderr\n got %q\nwant %q", tt.args, got, tt.stderr)
		}
	}
}

// TestProcessServeAndTerminate starts the tiny model, reads the budget
// from the log line and the gauge, watches the warm-up peak on the side
// port, and stops it with SIGTERM.
func TestProcessServeAndTerminate(t *testing.T) {
	port, simPort := freePort(t), freePort(t)
	env := map[string]string{"SIM_STARTUP_DELAY": "600ms", "SIM_GPUS_PORT": simPort, "SIM_SEED": "3"}
	args := []string{"--model-id", fixtures + "/tiny", "--hostname", "127.0.0.1", "--port", port}
	// The same start computed in process, for the expected numbers.
	a, _ := parseArgs(args, envMap(nil))
	senv, _ := loadSimEnv(envMap(env), time.Now)
	m, err := resolveModel(a, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	lp, _, _ := planLaunch(a, m, senv)
	st := simulate(a, m, senv, lp)
	if st.Failure != failNone {
		t.Fatal(st.Message)
	}

	l := startLauncher(t, env, args...)
	// During warm-up TGI's port is closed, the side port shows the peak.
	l.waitFor(t, "Warming up model", 5*time.Second)
	peakSeen := false
	for range 200 {
		if gpus := simGPUs(t, "http://127.0.0.1:"+simPort); len(gpus) == 1 && gpus[0].Used == st.Ranks[0].WarmupPeak() {
			peakSeen = true
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !peakSeen {
		t.Errorf("never saw the warm-up peak %d on SIM_GPUS_PORT", st.Ranks[0].WarmupPeak())
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		c.Close()
		if !strings.Contains(l.stdout.String(), "Setting max batch total tokens") {
			t.Errorf("TGI's port answers before warm-up ends")
		}
	}
	l.waitFor(t, "Connected", 5*time.Second)
	base := "http://127.0.0.1:" + port
	if status, _ := get(t, base+"/health"); status != 200 {
		t.Errorf("health %d", status)
	}
	mbt := regexp.MustCompile(`Setting max batch total tokens to (\d+)`).FindStringSubmatch(l.stdout.String())
	if mbt == nil || mbt[1] != strconv.FormatInt(st.MaxBatchTotalTokens, 10) {
		t.Errorf("log budget %v, want %d", mbt, st.MaxBatchTotalTokens)
	}
	_, metrics := get(t, base+"/metrics")
	if got := metricValue(t, metrics, "tgi_batch_max_total_tokens"); got != st.MaxBatchTotalTokens {
		t.Errorf("gauge %d, want %d", got, st.MaxBatchTotalTokens)
	}
	if gpus := simGPUs(t, base); len(gpus) != 1 || gpus[0].Used != st.Ranks[0].Serving() {
		t.Errorf("serving memory %+v, want used %d", gpus, st.Ranks[0].Serving())
	}
	if status, body, _ := post(t, base+"/generate", `{"inputs":"hello","parameters":{"max_new_tokens":3}}`); status != 200 {
		t.Errorf("generate %d %s", status, body)
	}

	l.cmd.Process.Signal(syscall.SIGTERM)
	if code := l.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM %d, want 0", code)
	}
	if miss := inOrder(l.stdout.String(), "Connected", "Terminating webserver", "signal received, starting graceful shutdown", "Shutting down shards", "shard terminated rank=0"); miss != "" {
		t.Errorf("stdout lacks %q:\n%s", miss, l.stdout)
	}
}

func simGPUs(t *testing.T, base string) []simkit.SimGPU {
	t.Helper()
	status, body := get(t, base+"/sim/gpus")
	if status != 200 {
		t.Fatalf("/sim/gpus: %d", status)
	}
	var gpus []simkit.SimGPU
	if err := json.Unmarshal([]byte(body), &gpus); err != nil {
		t.Fatal(err)
	}
	return gpus
}
