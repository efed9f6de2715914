package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vramcalc/vramcalc/nvml"
)

// Config is one load run against a server that already serves.
type Config struct {
	// URL is the server's root, e.g. http://127.0.0.1:8000.
	URL string
	// Engine is EngineVLLM, EngineSGLang or EngineTGI.
	Engine string
	// Model is the served model name sent with OpenAI requests ("" sends
	// none: the server's only model).
	Model string
	// Concurrency are the levels, run in order: N clients each sending one
	// request after the other.
	Concurrency []int
	// InputLen is the prompt length in tokens, as the server's own
	// tokenizer counts them; OutputLen the tokens each request asks for.
	InputLen, OutputLen int
	// InputDist and OutputDist, when set (Kind not ""), are distributions
	// each request draws its lengths from instead of InputLen and
	// OutputLen. Drawn prompt lengths are rounded to the distribution's
	// Step, and one exact prompt per length is built before the run.
	InputDist, OutputDist Lengths
	// Seed seeds the draws: every level draws the same sequence, request
	// by request in the order they are sent, so runs and levels repeat.
	Seed uint64
	// Duration is how long each level issues requests (the requests in
	// flight then finish); Requests, when above 0, is the number each
	// level sends instead.
	Duration time.Duration
	Requests int
	// Ramp spreads the start of a level's clients evenly over this time
	// (0: all at once).
	Ramp time.Duration
	// Interval is the timeline's sampling period; 0 means 100 ms.
	Interval time.Duration
	// Sampler reads GPU memory (nil: no memory in the timeline); GPUs are
	// the indices to read, nil for every device it lists.
	Sampler nvml.Sampler
	GPUs    []int
	// Timeline is the file the samples are appended to as they are taken
	// (JSONL, CSV when it ends in .csv); "" writes none.
	Timeline string
	// USDPerHour is the price of the whole set-up (0: no cost figure);
	// PriceSource says where it came from (PriceFlag when "" and a price
	// is given) and PriceDetail how, for the report.
	USDPerHour               float64
	PriceSource, PriceDetail string
	// MaxErrorRate is the share of failed requests above which a level is
	// an "errors" failure; 0 means DefaultMaxErrorRate.
	MaxErrorRate float64
	// Predicted is the estimate to compare with (nil: none).
	Predicted *Predicted
	// HTTP is the client; nil means a client of its own.
	HTTP *http.Client
}

// DefaultMaxErrorRate is the error rate above which a level fails.
const DefaultMaxErrorRate = 0.05

// DefaultInterval is the timeline's default sampling period.
const DefaultInterval = 100 * time.Millisecond

// ErrPrompt is a prompt of the asked length that the server's tokenizer
// could not be brought to.
var ErrPrompt = errors.New("load: no prompt of the asked length")

// runner is one Run's state.
type runner struct {
	cfg     Config
	api     engineAPI
	httpc   *http.Client
	base    string
	in, out Lengths
	step    int            // the rounding of drawn prompt lengths
	prompts map[int]string // one exact prompt per length sent
	start   time.Time
	level   atomic.Int64 // index of the level running
	served  atomic.Int64 // requests answered in full

	deadOnce sync.Once
	dead     *Failure // the runtime_oom, once the server stopped answering
	stopAll  context.CancelFunc
}

// Run drives the server through each concurrency level, samples memory and
// the engine's gauges every Interval, and reports. A cancelled ctx
// (Ctrl-C) ends the run with what was measured: the report and an error
// matching context.Canceled. A server that stops answering after it served
// ends the run with a runtime_oom failure, not an error.
func Run(ctx context.Context, cfg Config) (Report, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Engine: cfg.Engine, URL: r.base, Predicted: cfg.Predicted, Timeline: cfg.Timeline,
		InputLen: r.in.String(), OutputLen: r.out.String(), InputStep: r.step, Seed: cfg.Seed, Price: r.price(),
		OutputTokens: int(math.Round(r.out.Mean())), Levels: []LevelReport{}, Failures: []Failure{}, GPUs: []GPU{}}
	if r.prompts, err = r.buildPrompts(ctx); err != nil {
		return rep, err
	}
	rep.InputTokens = int(math.Round(r.in.Mean()))
	gpus, idx := devices(ctx, cfg.Sampler, cfg.GPUs)
	rep.GPUs = gpus
	var tl *timelineWriter
	if cfg.Timeline != "" {
		if tl, err = createTimeline(cfg.Timeline, Header{Engine: cfg.Engine, URL: r.base, GPUs: gpus, Levels: cfg.Concurrency, Predicted: cfg.Predicted}); err != nil {
			return rep, err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	r.stopAll = stop
	r.start = time.Now()
	w := r.watch(runCtx, cfg.Sampler, idx, tl)
	runs := r.levels(runCtx)
	pts, werr := w.stop(runCtx)
	rep.Samples = len(pts)
	r.finish(&rep, pts, runs)
	if tl != nil {
		if err := tl.close(); err != nil && werr == nil {
			werr = err
		}
	}
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("load: interrupted: %w", context.Cause(ctx))
	}
	return rep, werr
}

// newRunner checks cfg and fills its defaults.
func newRunner(cfg Config) (*runner, error) {
	api, err := apiFor(cfg.Engine)
	if err != nil {
		return nil, err
	}
	switch {
	case len(cfg.Concurrency) == 0:
		return nil, errors.New("load: no concurrency levels")
	case slices.ContainsFunc(cfg.Concurrency, func(c int) bool { return c <= 0 }):
		return nil, fmt.Errorf("load: concurrency levels must be at least 1, got %v", cfg.Concurrency)
	case cfg.InputDist.Kind == "" && cfg.InputLen <= 0 || cfg.OutputDist.Kind == "" && cfg.OutputLen <= 0:
		return nil, fmt.Errorf("load: input and output lengths must be at least 1, got %d and %d", cfg.InputLen, cfg.OutputLen)
	case cfg.InputDist.Kind != "" && cfg.InputDist.Min < 1 || cfg.OutputDist.Kind != "" && cfg.OutputDist.Min < 1:
		return nil, fmt.Errorf("load: input and output lengths must be at least 1, got %s and %s", cfg.InputDist, cfg.OutputDist)
	case cfg.Requests <= 0 && cfg.Duration <= 0:
		return nil, errors.New("load: give each level a duration or a number of requests")
	case cfg.URL == "":
		return nil, errors.New("load: no server URL")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxErrorRate <= 0 {
		cfg.MaxErrorRate = DefaultMaxErrorRate
	}
	httpc := cfg.HTTP
	if httpc == nil {
		httpc = &http.Client{}
	}
	r := &runner{cfg: cfg, api: api, httpc: httpc, base: strings.TrimRight(cfg.URL, "/"), in: cfg.InputDist, out: cfg.OutputDist}
	if r.in.Kind == "" {
		r.in = Fixed(cfg.InputLen)
	}
	if r.out.Kind == "" {
		r.out = Fixed(cfg.OutputLen)
	}
	r.step = r.in.Step()
	return r, nil
}

// The sources of a run's price (Price.Source).
const (
	PriceFlag    = "flag"     // given as a number (--price)
	PriceFile    = "file"     // looked up in a prices file (--prices)
	PriceBuiltIn = "built-in" // a built-in price for the GPU
	PriceNone    = "none"     // no price: no cost figures
)

// price is the report's account of the price.
func (r *runner) price() Price {
	p := Price{USDPerHour: r.cfg.USDPerHour, Source: r.cfg.PriceSource, Detail: r.cfg.PriceDetail}
	switch {
	case p.USDPerHour <= 0:
		p.USDPerHour, p.Source = 0, PriceNone
	case p.Source == "":
		p.Source = PriceFlag
	}
	return p
}

// buildPrompts builds one exact prompt for every length the input
// lengths can send, before the run starts (a tokenizer call or two each,
// at most maxPrompts + 1 lengths): the clients then only look them up.
func (r *runner) buildPrompts(ctx context.Context) (map[int]string, error) {
	prompts := map[int]string{}
	offset := 0 // the last prompt's words minus its tokens: the next one's first guess
	for _, n := range r.in.support(r.step) {
		text, words, err := r.exactPrompt(ctx, n, max(1, n+offset))
		if err != nil {
			return nil, err
		}
		prompts[n], offset = text, words-n
	}
	return prompts, nil
}

// devices lists the GPUs to sample (indices given, else all the sampler
// lists); none without a sampler or when it cannot list them.
func devices(ctx context.Context, s nvml.Sampler, want []int) ([]GPU, []int) {
	if s == nil {
		return []GPU{}, nil
	}
	devs, err := s.Devices(ctx)
	if err != nil {
		return []GPU{}, nil
	}
	gpus, idx := []GPU{}, []int{}
	for _, d := range devs {
		if want == nil || slices.Contains(want, d.Index) {
			gpus = append(gpus, GPU{Index: d.Index, Name: d.Name, Total: d.Total})
			idx = append(idx, d.Index)
		}
	}
	return gpus, idx
}

// levelRun is one level's requests, when it began (seconds since the
// run began) and how long it ran.
type levelRun struct {
	conc  int
	reqs  []Request
	start float64
	span  time.Duration
}

// levels runs every level in order until the run is cancelled or the
// server is dead.
func (r *runner) levels(ctx context.Context) []levelRun {
	var runs []levelRun
	for i, conc := range r.cfg.Concurrency {
		if ctx.Err() != nil {
			break
		}
		r.level.Store(int64(i))
		begin := time.Now()
		reqs := r.runLevel(ctx, conc)
		runs = append(runs, levelRun{conc: conc, reqs: reqs, start: begin.Sub(r.start).Seconds(), span: time.Since(begin)})
	}
	return runs
}

// finish builds the levels' reports from their requests and timeline
// points, the comparison and the failures, earliest first.
func (r *runner) finish(rep *Report, pts []Point, runs []levelRun) {
	for i, lr := range runs {
		var mine []Point
		for _, p := range pts {
			if p.level == i {
				mine = append(mine, p)
			}
		}
		rep.Levels = append(rep.Levels, levelReport(lr.conc, lr.reqs, lr.span, r.cfg.USDPerHour, mine))
	}
	rep.Compared = compare(rep.Levels, r.cfg.Predicted)
	until := 0.0
	if r.dead != nil {
		f := *r.dead
		f.Detail += memoryNote(pts, rep.GPUs, f.AtS)
		rep.Failures = append(rep.Failures, f)
		until = f.AtS
	}
	rep.Failures = append(rep.Failures, trendFailures(pts, rep.GPUs, until)...)
	starts := make([]float64, len(runs))
	for i, lr := range runs {
		starts[i] = lr.start
	}
	rep.Failures = append(rep.Failures, errorFailures(rep.Levels, starts, r.cfg.MaxErrorRate, r.dead != nil)...)
	slices.SortStableFunc(rep.Failures, func(a, b Failure) int { return cmpFloat(a.AtS, b.AtS) })
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// memoryNote is the last used memory sampled before at (seconds) against
// each card's total, for a runtime_oom's detail. A sample of nothing in
// use on every GPU is the dying server's memory freed, not the memory it
// ran out of, and is passed over.
func memoryNote(pts []Point, gpus []GPU, at float64) string {
	var last *Point
	for i := range pts {
		if pts[i].T <= at && len(pts[i].UsedBytes) == len(gpus) && len(gpus) > 0 && slices.Max(pts[i].UsedBytes) > 0 {
			last = &pts[i]
		}
	}
	if last == nil {
		return "; no GPU memory was sampled"
	}
	var parts []string
	for i, g := range gpus {
		parts = append(parts, fmt.Sprintf("GPU %d %.2f of %.2f GiB", g.Index, inGiB(last.UsedBytes[i]), inGiB(g.Total)))
	}
	return fmt.Sprintf("; last used memory at %.1f s: %s", last.T, strings.Join(parts, ", "))
}

func inGiB(b uint64) float64 { return float64(b) / (1 << 30) }
