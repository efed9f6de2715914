package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/nvml"
)

// Config is everything a launch needs besides the point itself.
type Config struct {
	Runtime Runtime
	// Sampler reads GPU memory while a point runs; nil records no peak. A
	// launch that gets no reading of a GPU says why in
	// Observation.PeakError.
	Sampler nvml.Sampler
	// GPUIndices are the sampler's device indices to watch.
	GPUIndices []int
	Engine     Engine
	Image      string
	// Model is the engine's --model-id (a Hub id, or a path inside the container).
	Model  string
	RunID  string
	Launch LaunchOptions
	GPUIDs []string
	Mounts []Mount
	// EngineHostPort is the host port of the engine's port (0: the runtime
	// picks a free one).
	EngineHostPort int
	// ExtraPorts are published besides the engine's.
	ExtraPorts []PortBinding
	// SimGPUsPort, when not 0, is the container port of the simulator's
	// GET /sim/gpus: each launch publishes it (on a free host port unless
	// ExtraPorts binds it) and reads GPU memory there instead of Sampler.
	SimGPUsPort int
	Env         []string
	Secrets     map[string]string
	// HealthTimeout bounds loading plus warm-up (default 30 min).
	HealthTimeout time.Duration
	// SampleEvery is the NVML sampling interval (default 100 ms).
	SampleEvery time.Duration
	// Requests describes the token-exact traffic sent once the server is up.
	Requests RequestPlan
	// Progress, when set, hears each phase of each launch (EventPhase:
	// "start", "loading", "warmup", "requests", "stop"), one call at a time.
	Progress func(Event)
	HTTP     *http.Client
	// Predict fills Observation.Predicted.
	Predict Predictor
}

// RequestPlan is the traffic of one launch: requests of exactly InputTokens
// prompt tokens (counted by the server's own /tokenize) and OutputTokens new
// tokens (≤ 1024: TGI ≥ 3.1.1 generates longer requests in 1024-token
// chunks, docs/ENGINES.md §5), as many at once as Concurrency, or, when it is 0,
// as many as the reported KV budget holds (capped at MaxConcurrency).
// Zero InputTokens or OutputTokens sends none.
type RequestPlan struct {
	InputTokens, OutputTokens, Concurrency int
	// Tolerance is how many generated tokens a response may miss.
	Tolerance int
	// Grammar constrains the output with a regex that has no end before
	// 16 characters per requested token, so that the model cannot stop at
	// EOS early (TGI's HTTP API has no ignore_eos; docs/ENGINES.md §5). Off by
	// default: a long repetition compiles to a large grammar automaton.
	Grammar bool
	// Image, when set, is a data: URL of an image each request carries
	// (multimodal models): vLLM and SGLang get it as an image_url part of
	// a chat message, TGI as a markdown image before the prompt. Its
	// tokens come on top of InputTokens, counted by the engine.
	Image string
}

// MaxConcurrency caps how many requests a launch sends at once: TGI's
// default --max-concurrent-requests (128,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L645-L649),
// past which it answers 429.
const MaxConcurrency = 128

// tailLines is how much of the engine's log an observation keeps.
const tailLines = 40

// Launcher returns the Launcher validate's search calls: one container per
// point, removed afterwards whatever happens. Each launch increments *seq
// and records it as the observation's Seq.
func (c *Config) Launcher(seq *int) Launcher {
	l := &launcher{Config: c}
	return func(ctx context.Context, p Point) (Observation, error) {
		*seq++
		return l.launch(ctx, p, *seq)
	}
}

// launcher runs the launches of one Launcher.
type launcher struct {
	*Config
	// mu serializes Progress calls (the log watcher reports the warm-up
	// from its own goroutine).
	mu sync.Mutex
	// hold, when set, runs while a launch that started serves (after its
	// requests), before the container is removed; held is its error.
	hold func(context.Context, HeldServer) error
	held error
}

// HeldServer is a launch kept serving for the caller of Validation.Hold:
// the engine's URL on this machine and where its GPU memory is read.
type HeldServer struct {
	BaseURL string
	// Sampler reads the container's GPUs (the simulator's /sim/gpus or
	// NVML); nil when none is read. GPUIndices are the sampler's indices.
	Sampler    nvml.Sampler
	GPUIndices []int
	// Point is what the server was started with.
	Point Point
}

func (l *launcher) progress(phase string, p Point, seq int) {
	if l.Progress != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.Progress(Event{Kind: EventPhase, Launch: seq, Point: p, Phase: phase})
	}
}

func (l *launcher) launch(ctx context.Context, p Point, seq int) (Observation, error) {
	c := l.Config
	o := c.newObservation(p, seq)
	l.progress("start", p, seq)
	spec := c.containerSpec(p, seq)
	ctr, err := c.Runtime.Start(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			// The engine may have created the container before the
			// interrupt cut its answer: remove it by name.
			c.remove(ctx, spec.Name)
			return Observation{}, interrupted(seq, ctx)
		}
		return o, err
	}
	// The container goes whatever happens next, even on cancellation.
	defer c.remove(ctx, ctr.ID)
	w := l.watch(ctx, ctr, p, seq)
	l.progress("loading", p, seq)
	t0 := time.Now()
	healthy, code, ended := c.waitHealthy(ctx, w.httpc, w.base, w.exited)
	o.Phases["load_and_warmup"] = time.Since(t0)
	switch {
	case ctx.Err() != nil:
	case healthy:
		l.serve(ctx, &o, w, p, seq)
		if l.hold != nil && o.OK() {
			l.progress("held", p, seq)
			l.held = l.hold(ctx, HeldServer{BaseURL: w.base, Sampler: c.sampler(ctr), GPUIndices: c.GPUIndices, Point: p})
		}
	case ended:
		o.Outcome, o.ExitCode = "failed", code
		w.logs.wait(2 * time.Second)
		o.Failure = c.Engine.Classify(code, w.logs.tail())
		if o.Failure == "" {
			o.Failure = estimate.FailureCrash
		}
	default:
		o.Outcome, o.Failure = "failed", estimate.FailureHealthTimeout
	}
	l.progress("stop", p, seq)
	w.finish(&o)
	if ctx.Err() != nil {
		// Whatever the launch saw, the interrupt may have cut it short:
		// it is not an observation.
		return Observation{}, interrupted(seq, ctx)
	}
	return o, nil
}

// interrupted is the error of a launch whose context ended: it wraps
// ctx.Err() (context.Canceled for Ctrl-C and SIGTERM).
func interrupted(seq int, ctx context.Context) error {
	return fmt.Errorf("probe: launch %d interrupted: %w", seq, ctx.Err())
}

// newObservation is a launch's record before it starts: what is tried and
// what the estimate says of it.
func (c *Config) newObservation(p Point, seq int) Observation {
	o := Observation{Run: c.RunID, Seq: seq, Engine: c.Engine.Name(), Image: c.Image, Model: c.Model, Point: p,
		Started: time.Now().UTC(), Phases: map[string]time.Duration{}}
	if c.Predict != nil {
		e := c.Predict(p)
		o.Predicted = Prediction{Fits: e.Fits, MaxBatchTotalTokens: e.Budget, WarmupBytes: e.WarmBytes}
	}
	return o
}

// containerSpec is the container of one launch, labelled with the run.
func (c *Config) containerSpec(p Point, seq int) ContainerSpec {
	return ContainerSpec{
		Name: fmt.Sprintf("vramcalc-%s-%d", c.RunID, seq), Image: c.Image, Args: c.Engine.Args(c.Model, p, c.Launch),
		Env: c.Env, SecretEnv: c.Secrets, Labels: map[string]string{RunLabel: c.RunID},
		Ports: c.ports(), ShmSize: 1 << 30, Mounts: c.Mounts, GPUIDs: c.GPUIDs,
	}
}

// ports are the engine's port, the extra ones, and the simulator's
// /sim/gpus port unless an extra one already publishes it.
func (c *Config) ports() []PortBinding {
	ports := append([]PortBinding{{ContainerPort: c.Engine.Port(), HostPort: c.EngineHostPort}}, c.ExtraPorts...)
	if c.SimGPUsPort != 0 && c.binding(c.SimGPUsPort).ContainerPort == 0 {
		ports = append(ports, PortBinding{ContainerPort: c.SimGPUsPort})
	}
	return ports
}

// binding is the extra binding of a container port (zero if none).
func (c *Config) binding(containerPort int) PortBinding {
	for _, b := range c.ExtraPorts {
		if b.ContainerPort == containerPort {
			return b
		}
	}
	return PortBinding{}
}

// hostURL is http:// and the host address where ctr publishes containerPort.
func (c *Config) hostURL(ctr Container, containerPort int) string {
	ip := c.binding(containerPort).Host()
	return "http://" + netip.AddrPortFrom(ip, uint16(ctr.Ports[containerPort])).String()
}

// sampler reads the GPUs of a started container: the simulator's
// /sim/gpus on its published port, else Sampler.
func (c *Config) sampler(ctr Container) nvml.Sampler {
	if c.SimGPUsPort != 0 {
		return nvml.SimSampler{BaseURL: c.hostURL(ctr, c.SimGPUsPort)}
	}
	return c.Sampler
}

// memorySource names where a sampler reads GPU memory, for PeakError.
func memorySource(s nvml.Sampler) string {
	switch s := s.(type) {
	case nvml.SimSampler:
		return "the simulator's /sim/gpus at " + s.BaseURL
	case *nvml.SimSampler:
		return "the simulator's /sim/gpus at " + s.BaseURL
	}
	return "NVML"
}

// remove stops and removes a container, even when ctx is cancelled.
func (c *Config) remove(ctx context.Context, id string) {
	rm, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = c.Runtime.Stop(rm, id, 10*time.Second)
	_ = c.Runtime.Remove(rm, id)
}

func (c *Config) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Minute}
}

// watchers follow one running container: its log, its exit, its GPUs'
// memory.
type watchers struct {
	// base is the engine's URL on the host.
	base   string
	httpc  *http.Client
	exited chan int
	logs   *logWatcher
	// peak watches indices through a sampler that source names.
	peak    *nvml.Peak
	source  string
	indices []int
	loaded  *loadedBytes
	// warmPeak is the peak when the warm-up ended (set under logs.mu).
	warmPeak map[int]uint64
}

// watch starts following a started container.
func (l *launcher) watch(ctx context.Context, ctr Container, p Point, seq int) *watchers {
	c := l.Config
	w := &watchers{base: c.hostURL(ctr, c.Engine.Port()), httpc: c.httpClient(), exited: make(chan int, 1),
		logs: newLogWatcher(c.Engine, c.Secrets), loaded: &loadedBytes{}, indices: c.GPUIndices}
	sampler := c.sampler(ctr)
	if sampler != nil {
		every := c.SampleEvery
		if every <= 0 {
			every = 100 * time.Millisecond
		}
		w.peak, w.source = nvml.Watch(ctx, sampler, c.GPUIndices, every), memorySource(sampler)
	}
	w.logs.onWarmupEnd = func() {
		if w.peak != nil {
			w.warmPeak = w.peak.Current()
		}
	}
	w.logs.onWarmup = func() {
		l.progress("warmup", p, seq)
		// Weights and context are in place when the warm-up begins.
		if sampler != nil {
			w.loaded.sample(ctx, sampler, c.GPUIndices)
		}
	}
	if rc, err := c.Runtime.Logs(ctx, ctr.ID, true); err == nil {
		go w.logs.read(rc)
	}
	go func() {
		code, err := c.Runtime.Wait(context.WithoutCancel(ctx), ctr.ID)
		if err == nil {
			w.exited <- code
		}
	}()
	return w
}

// serve reads the budget of a server that answers its health check and
// sends the plan's requests.
func (l *launcher) serve(ctx context.Context, o *Observation, w *watchers, p Point, seq int) {
	c := l.Config
	o.Outcome = "ok"
	metric := 0
	if body, err := get(ctx, w.httpc, w.base+c.Engine.MetricsPath()); err == nil {
		metric = c.Engine.ParseMetrics(body)
	}
	o.Reported = w.logs.reported()
	o.Reported.MaxBatchTotalTokensMetric = metric
	l.progress("requests", p, seq)
	t1 := time.Now()
	o.Requests = c.sendRequests(ctx, w.httpc, w.base, o.Budget())
	o.Phases["requests"] = time.Since(t1)
	// A request the server could not serve (an OOM in decode) is a failure
	// to serve; one that ended early (EOS) is not about memory and stays
	// in the stats.
	if o.Requests.Failed > 0 {
		o.Outcome, o.Failure = "failed", estimate.FailureRequests
	}
}

// finish adds what the watchers saw to the observation: the peak, the whole
// log's report, its tail and the memory at the warm-up.
func (w *watchers) finish(o *Observation) {
	if w.peak != nil {
		o.PeakBytes = w.peak.Stop()
		o.PeakError = Redact(w.unread(o.PeakBytes), w.logs.secrets)
	}
	metric := o.Reported.MaxBatchTotalTokensMetric
	o.Reported = w.logs.reported()
	o.Reported.MaxBatchTotalTokensMetric = metric
	o.LogTail = w.logs.tail()
	o.LoadedBytes = w.loaded.get()
	w.logs.mu.Lock()
	o.WarmupPeakBytes = w.warmPeak
	w.logs.mu.Unlock()
}

// unread says which watched GPUs have no peak and why ("" when all have
// one): the source, the GPUs, the last sampling error.
func (w *watchers) unread(peaks map[int]uint64) string {
	var missing []string
	for _, i := range w.indices {
		if _, ok := peaks[i]; !ok {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	why := "no sample was taken"
	if err := w.peak.Err(); err != nil {
		why = err.Error()
	}
	return fmt.Sprintf("%s: GPU %s: %s", w.source, strings.Join(missing, ", "), why)
}

// loadedBytes is the used memory per GPU sampled when the warm-up began.
type loadedBytes struct {
	mu sync.Mutex
	m  map[int]uint64
}

func (l *loadedBytes) sample(ctx context.Context, s nvml.Sampler, indices []int) {
	m := map[int]uint64{}
	for _, i := range indices {
		if smp, err := s.Sample(ctx, i); err == nil {
			m[i] = smp.Used
		}
	}
	l.mu.Lock()
	l.m = m
	l.mu.Unlock()
}

func (l *loadedBytes) get() map[int]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m
}

// waitHealthy polls the health endpoint until it answers 200, the container
// exits, or the health timeout passes.
func (c *Config) waitHealthy(ctx context.Context, httpc *http.Client, base string, exited <-chan int) (healthy bool, code int, ended bool) {
	limit := c.HealthTimeout
	if limit <= 0 {
		limit = 30 * time.Minute
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, 0, false
		case code := <-exited:
			return false, code, true
		case <-deadline.C:
			return false, 0, false
		case <-tick.C:
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+c.Engine.HealthPath(), nil)
			resp, err := httpc.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true, 0, false
			}
		}
	}
}

func get(ctx context.Context, httpc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return string(b), err
}

// logWatcher parses the engine's log as it streams and keeps its tail.
type logWatcher struct {
	engine Engine
	mu     sync.Mutex
	rep    Reported
	lines  []string
	done   chan struct{}
	// onWarmup is called once when the log says the warm-up began,
	// onWarmupEnd once when it says the warm-up ended (under mu).
	onWarmup    func()
	onWarmupEnd func()
	warm, ended bool
	// secrets are the values Redact hides in every line.
	secrets []string
}

// newLogWatcher parses e's log; the values of secrets and anything shaped
// as a Hugging Face token never reach the kept tail, even if the engine
// prints its environment.
func newLogWatcher(e Engine, secrets map[string]string) *logWatcher {
	return &logWatcher{engine: e, done: make(chan struct{}), secrets: slices.Collect(maps.Values(secrets))}
}

// reported is what the log said so far.
func (w *logWatcher) reported() Reported {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rep
}

func (w *logWatcher) read(rc io.ReadCloser) {
	defer close(w.done)
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := Redact(sc.Text(), w.secrets)
		w.mu.Lock()
		w.engine.ParseLog(line, &w.rep)
		loaded, warmedUp := w.engine.Milestones()
		if !w.warm && strings.Contains(line, loaded) {
			w.warm = true
			if w.onWarmup != nil {
				w.onWarmup()
			}
		}
		if !w.ended && strings.Contains(line, warmedUp) {
			w.ended = true
			if w.onWarmupEnd != nil {
				w.onWarmupEnd()
			}
		}
		w.lines = append(w.lines, line)
		if len(w.lines) > tailLines {
			w.lines = w.lines[len(w.lines)-tailLines:]
		}
		w.mu.Unlock()
	}
}

// wait lets the stream drain after the container exited.
func (w *logWatcher) wait(d time.Duration) {
	select {
	case <-w.done:
	case <-time.After(d):
	}
}

func (w *logWatcher) tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// sendRequests sends the plan's token-exact requests, as many at once as the
// budget allows, and checks each generated exactly the tokens asked.
func (c *Config) sendRequests(ctx context.Context, httpc *http.Client, base string, budget int) RequestStats {
	rp := c.Requests
	var st RequestStats
	if rp.InputTokens <= 0 || rp.OutputTokens <= 0 {
		return st
	}
	n := rp.Concurrency
	per := rp.InputTokens + rp.OutputTokens
	if n <= 0 {
		// Fill the budget (block 0 is kept for health checks).
		n = min(max((budget-1)/per, 1), MaxConcurrency)
	} else if budget > 0 && budget/per < n {
		n = max(budget/per, 1)
	}
	st.Concurrency = n
	api := servingAPIFor(c.Engine, c.Model, rp.Image)
	prompt, err := exactPrompt(ctx, httpc, base, api, rp.InputTokens)
	switch {
	case err != nil && ctx.Err() != nil:
		// Cut by the interrupt: nothing was served or failed.
		return st
	case err != nil:
		st.Sent, st.Failed = n, n
		return st
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, reason, err := generate(ctx, httpc, base, api, prompt, rp.OutputTokens, rp.Grammar)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && ctx.Err() != nil {
				// A request the interrupt cut is not a failure.
				return
			}
			st.Sent++
			var he *httpStatusError
			switch {
			case errors.As(err, &he) && he.code < 500:
				// 422/429: the server refused the request, it did not fail.
				st.Rejected++
			case err != nil:
				st.Failed++
			case reason != "length" || got < rp.OutputTokens-rp.Tolerance || got > rp.OutputTokens:
				st.WrongLength++
			default:
				st.OK++
			}
		}()
	}
	wg.Wait()
	return st
}

// httpStatusError is a non-200 answer to a request.
type httpStatusError struct {
	code int
	body string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, strconv.Quote(e.body))
}
