package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/nvml"
)

// fakeRuntime "runs" a container as an in-process fake TGI: it starts when
// the point's max_total_tokens is at most edge, else it exits 1 with TGI's
// warm-up OOM lines.
type fakeRuntime struct {
	edge    int
	budget  int
	mu      sync.Mutex
	started []ContainerSpec
	live    map[string]*fakeCtr
	removed int
	// missing images are not local until pulled; pullErr fails a pull.
	missing map[string]bool
	pulled  []string
	pullErr error
	// leftover containers (of an earlier run) are listed by label and removed.
	leftover   []Container
	removedIDs []string
	// published adds container port → host port bindings to every container.
	published map[int]int
	// logPrefix starts every container's log (an engine printing its env).
	logPrefix string
	// serveHook, when set, sees every request to a started container
	// before it is answered (a test blocks or cancels there); pullHook
	// runs inside Pull with its context.
	serveHook func(*http.Request)
	pullHook  func(context.Context) error
}

type fakeCtr struct {
	srv  *httptest.Server
	logs string
	exit chan int
}

func (f *fakeRuntime) ImageExists(_ context.Context, image string) (bool, error) {
	return !f.missing[image], nil
}

func (f *fakeRuntime) Pull(ctx context.Context, image string, _ io.Writer) error {
	f.pulled = append(f.pulled, image)
	if f.pullHook != nil {
		if err := f.pullHook(ctx); err != nil {
			return err
		}
	}
	if f.pullErr != nil {
		return f.pullErr
	}
	delete(f.missing, image)
	return nil
}

func (f *fakeRuntime) Start(_ context.Context, spec ContainerSpec) (Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live == nil {
		f.live = map[string]*fakeCtr{}
	}
	f.started = append(f.started, spec)
	total := 0
	for i, a := range spec.Args {
		if a == "--max-total-tokens" {
			fmt.Sscan(spec.Args[i+1], &total)
		}
	}
	id := fmt.Sprintf("c%d", len(f.started))
	c := &fakeCtr{exit: make(chan int, 1)}
	if total > f.edge {
		c.logs = "INFO text_generation_launcher: Warming up model\nERROR text_generation_launcher: Method Warmup encountered an error.\nRuntimeError: Not enough memory to handle 8049 prefill tokens. You need to decrease `--max-batch-prefill-tokens`\nERROR text_generation_launcher: Shard 0 failed to start\n"
		c.exit <- 1
		// Nothing listens: health polls get connection refused.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		f.live[id] = c
		return Container{ID: id, Ports: f.ports(port)}, nil
	}
	c.logs = fmt.Sprintf("INFO text_generation_router_v3: Warming up model\nINFO text_generation_launcher: KV-cache blocks: %d, size: 1\nINFO text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch total tokens to %d\n", f.budget, f.budget)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "tgi_batch_max_total_tokens %d\n", f.budget)
	})
	mux.HandleFunc("POST /tokenize", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Inputs string }
		json.NewDecoder(r.Body).Decode(&in)
		toks := []map[string]any{}
		for i := range strings.Fields(in.Inputs) {
			toks = append(toks, map[string]any{"id": i})
		}
		json.NewEncoder(w).Encode(toks)
	})
	mux.HandleFunc("POST /generate", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Parameters struct {
				MaxNewTokens int `json:"max_new_tokens"`
			} `json:"parameters"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		fmt.Fprintf(w, `{"generated_text":"x","details":{"finish_reason":"length","generated_tokens":%d}}`, in.Parameters.MaxNewTokens)
	})
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.serveHook != nil {
			f.serveHook(r)
		}
		mux.ServeHTTP(w, r)
	}))
	f.live[id] = c
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(c.srv.URL, "http://"))
	var p int
	fmt.Sscan(port, &p)
	return Container{ID: id, Ports: f.ports(p), Running: true}, nil
}

// ports are the engine's port 80 on host port engine, and the published ones.
func (f *fakeRuntime) ports(engine int) map[int]int {
	m := map[int]int{80: engine}
	for c, h := range f.published {
		m[c] = h
	}
	return m
}

func (f *fakeRuntime) Logs(_ context.Context, id string, _ bool) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return io.NopCloser(strings.NewReader(f.logPrefix + f.live[id].logs)), nil
}

func (f *fakeRuntime) Wait(ctx context.Context, id string) (int, error) {
	f.mu.Lock()
	c := f.live[id]
	f.mu.Unlock()
	select {
	case code := <-c.exit:
		return code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (f *fakeRuntime) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.live[id]; c != nil && c.srv != nil {
		c.srv.Close()
		select {
		case c.exit <- 0:
		default:
		}
	}
	return nil
}

func (f *fakeRuntime) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, id)
	f.leftover = slices.DeleteFunc(f.leftover, func(c Container) bool { return c.ID == id })
	f.removed++
	f.removedIDs = append(f.removedIDs, id)
	return nil
}

// List returns the live containers (which carry no labels) when labels is
// empty, and the leftover ones that carry all of labels.
func (f *fakeRuntime) List(_ context.Context, labels map[string]string) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	if len(labels) == 0 {
		for id := range f.live {
			out = append(out, Container{ID: id})
		}
	}
	for _, c := range f.leftover {
		ok := true
		for k, v := range labels {
			ok = ok && c.Labels[k] == v
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func TestLaunchOKAndWarmupOOM(t *testing.T) {
	// The engine prints its environment: the token must not reach the tail.
	rt := &fakeRuntime{edge: 20000, budget: 22460, logPrefix: "env: HF_HOME=/data HF_TOKEN=hf_secretValue\n"}
	cfg := &Config{Runtime: rt, Engine: TGI{}, Image: "vramcalc/tgisim:dev", Model: "meta-llama/Llama-3.1-8B-Instruct", RunID: "t1",
		Secrets: map[string]string{"HF_TOKEN": "hf_secretValue"}, HealthTimeout: 5 * time.Second,
		Requests: RequestPlan{InputTokens: 100, OutputTokens: 50, Concurrency: 4}}
	seq := 0
	launch := cfg.Launcher(&seq)
	ok, err := launch(context.Background(), Point{MaxInputTokens: 19999, MaxTotalTokens: 20000, MaxBatchPrefillTokens: 8049})
	if err != nil {
		t.Fatal(err)
	}
	// 4 requests of 100 + 50 tokens fit a 22,460-token budget at once.
	if !ok.OK() || ok.Budget() != 22460 || ok.Reported.MaxBatchTotalTokensMetric != 22460 || ok.Requests.OK != 4 || ok.Requests.Concurrency != 4 {
		t.Errorf("ok launch: %+v", ok)
	}
	bad, err := launch(context.Background(), Point{MaxInputTokens: 20000, MaxTotalTokens: 20001, MaxBatchPrefillTokens: 8049})
	if err != nil {
		t.Fatal(err)
	}
	if bad.OK() || bad.Failure != estimate.FailureWarmupOOM || bad.ExitCode != 1 || bad.Seq != 2 {
		t.Errorf("failed launch: outcome %s failure %s exit %d seq %d", bad.Outcome, bad.Failure, bad.ExitCode, bad.Seq)
	}
	// Both containers are gone; labels identify the run; the secret was passed.
	if rt.removed != 2 || len(rt.live) != 0 {
		t.Errorf("removed %d, live %d", rt.removed, len(rt.live))
	}
	spec := rt.started[0]
	if spec.Labels[RunLabel] != "t1" || spec.SecretEnv["HF_TOKEN"] != "hf_secretValue" || spec.GPUIDs != nil || spec.Ports[0].ContainerPort != 80 {
		t.Errorf("spec %+v", spec)
	}
	for _, o := range []Observation{ok, bad} {
		b, _ := json.Marshal(o)
		if strings.Contains(string(b), "hf_secretValue") || len(o.LogTail) == 0 || o.LogTail[0] != "env: HF_HOME=/data HF_TOKEN=[redacted]" {
			t.Errorf("the token is in observation %d, or the tail lost the line: %q", o.Seq, o.LogTail)
		}
	}
}

// TestLaunchPorts: the engine's port goes on EngineHostPort (0: the
// runtime picks), extra ports keep their loopback address, and the
// simulator's port is published once, on a free host port unless an extra
// binding already names it.
func TestLaunchPorts(t *testing.T) {
	lo2 := netip.MustParseAddr("127.0.0.2")
	for _, tc := range []struct {
		name string
		cfg  Config
		want []PortBinding
	}{
		{"defaults", Config{}, []PortBinding{{ContainerPort: 80}}},
		{"engine host port", Config{EngineHostPort: 8081}, []PortBinding{{ContainerPort: 80, HostPort: 8081}}},
		{"sim port", Config{SimGPUsPort: 9400}, []PortBinding{{ContainerPort: 80}, {ContainerPort: 9400}}},
		{"sim port published", Config{SimGPUsPort: 9400, ExtraPorts: []PortBinding{{ContainerPort: 9400, HostPort: 9500, HostIP: lo2}}},
			[]PortBinding{{ContainerPort: 80}, {ContainerPort: 9400, HostPort: 9500, HostIP: lo2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Engine, cfg.RunID = TGI{}, "r1"
			if got := cfg.containerSpec(Point{MaxInputTokens: 4095, MaxTotalTokens: 4096}, 1).Ports; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ports %+v, want %+v", got, tc.want)
			}
		})
	}
	cfg := Config{Engine: TGI{}, SimGPUsPort: 9400, ExtraPorts: []PortBinding{{ContainerPort: 9400, HostPort: 9500, HostIP: lo2}}}
	ctr := Container{Ports: map[int]int{80: 32768, 9400: 9500}}
	if got := cfg.hostURL(ctr, 80); got != "http://127.0.0.1:32768" {
		t.Errorf("engine URL %s", got)
	}
	if s, ok := cfg.sampler(ctr).(nvml.SimSampler); !ok || s.BaseURL != "http://127.0.0.2:9500" {
		t.Errorf("sampler %#v, want the simulator at http://127.0.0.2:9500", cfg.sampler(ctr))
	}
}

// simGPUs serves the simulator's GET /sim/gpus for one L4 using used bytes.
func simGPUs(t *testing.T, used uint64) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"index":0,"uuid":"sim-0","name":"NVIDIA L4","total":23570219008,"used":%d,"free":%d}]`, used, 23570219008-used)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestLaunchSimGPUs: with SimGPUsPort the launch reads the simulator of
// its own container (20 GB used: the peak and the memory at the warm-up);
// when that port does not answer, the observation says which reader, which
// GPU and why instead of an empty peak.
func TestLaunchSimGPUs(t *testing.T) {
	rt := &fakeRuntime{edge: 20000, budget: 22460, published: map[int]int{9400: simGPUs(t, 20_000_000_000)}}
	cfg := &Config{Runtime: rt, Engine: TGI{}, Image: "img", Model: "m", RunID: "s1", HealthTimeout: 5 * time.Second,
		SimGPUsPort: 9400, GPUIndices: []int{0}, SampleEvery: 10 * time.Millisecond}
	seq := 0
	o, err := cfg.Launcher(&seq)(context.Background(), Point{MaxInputTokens: 19999, MaxTotalTokens: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if o.PeakBytes[0] != 20_000_000_000 || o.LoadedBytes[0] != 20_000_000_000 || o.PeakError != "" {
		t.Errorf("peak %v, loaded %v, peak error %q", o.PeakBytes, o.LoadedBytes, o.PeakError)
	}
	closed := closedPort(t)
	rt.published[9400] = closed
	o, err = cfg.Launcher(&seq)(context.Background(), Point{MaxInputTokens: 19999, MaxTotalTokens: 20000})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("the simulator's /sim/gpus at http://127.0.0.1:%d: GPU 0: nvml: sample device 0: sim: unavailable: Get \"http://127.0.0.1:%d/sim/gpus\": dial tcp 127.0.0.1:%d: connect: connection refused", closed, closed, closed)
	if len(o.PeakBytes) != 0 || o.PeakError != want {
		t.Errorf("peak %v, peak error\n%q, want\n%q", o.PeakBytes, o.PeakError, want)
	}
	b, _ := json.Marshal(o)
	if !strings.Contains(string(b), `"peak_error":"the simulator's /sim/gpus at http://127.0.0.1:`) {
		t.Errorf("peak_error not in the JSON line: %s", b)
	}
}
