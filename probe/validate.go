package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/probe/results"
)

// Validation is one validate run: what the estimate sees, how to search,
// where to record, and how each point launches. Every field is a plain
// value; the caller (cmd/vramcalc) parses flags, opens the runtime and the
// sampler, and displays progress.
type Validation struct {
	// Model and Hardware are what the estimate sees.
	Model    estimate.Model
	Hardware estimate.Hardware
	// EngineVersion is the engine release the image runs, for the estimate
	// (the engine's name is Launch.Engine's).
	EngineVersion string
	// Settings apply to every point: CUDAMemoryFraction, Corrections, and
	// MaxBatchPrefillTokens (0: the engine's default for this GPU). The
	// search sets the max tokens.
	Settings estimate.Settings
	// Tolerance, Confirm, Margin and MaxLaunches shape the search (Plan's;
	// defaults 1%, 3 confirmations, 256 MiB, 12 launches).
	Tolerance   float64
	Confirm     int
	Margin      int64
	MaxLaunches int
	// Results is the JSONL file the run's header and each launch are
	// appended to (see OpenStore).
	Results string
	// Resume skips the points already in Results, goes on with the id and
	// numbering of its last run, and first removes the containers left by
	// the runs the file names.
	Resume bool
	// Hold, when set, runs once the recommendation is confirmed, on one more
	// launch at it kept serving (validate --load): the launch is recorded
	// like the others, and Hold's error is Result.HoldErr.
	Hold func(context.Context, HeldServer) error
	// Launch is how each point runs: Runtime, Engine, Image, Model (the
	// engine's --model-id), GPUs, sampler, ports, environment, requests,
	// and Progress, which hears every Event of the run. Validate sets its
	// RunID (when empty: a new unique id; on Resume: the file's), Predict,
	// and Launch.NumShard and Launch.CUDAMemoryFraction when they are zero
	// (from Hardware and Settings).
	Launch Config
}

// Result is what a validation found.
type Result struct {
	// RunID labels the run's containers and observations.
	RunID string
	// Plan is what the search was given: the predicted edge, the cap, the
	// prefill of every point, the tolerance.
	Plan Plan
	// Estimate is the estimate at the engine's defaults (no max tokens):
	// the breakdown the measurements are reconciled with.
	Estimate estimate.Result
	// Edge is the search's outcome, resumed observations included.
	Edge Edge
	// Resumed counts the observations read back from Results.
	Resumed int
	// AtRecommended is the estimate at the recommended point (zero when
	// there is none): what the engine's reports and NVML are reconciled with.
	AtRecommended estimate.Result
	// Held is the launch Validation.Hold ran on (nil when none did) and
	// HoldErr Hold's error, or why the launch did not serve.
	Held    *Observation
	HoldErr error
}

// Event is one step of a validation, for a progress display. Kind says
// which fields are set.
type Event struct {
	Kind EventKind
	// Launch is the launch's sequence number; Point what it tries.
	Launch int
	Point  Point
	// Phase is the launch's phase (EventPhase): "start", "loading",
	// "warmup", "requests", "stop".
	Phase string
	// Image is the image being pulled (EventPull).
	Image string
	// Container is the ID of a leftover container removed (EventCleanup).
	Container string
	// Observation is the launch just recorded (EventObserved).
	Observation *Observation
	// Warning says what went wrong and what it costs (EventWarning).
	Warning string
}

// EventKind names an Event.
type EventKind string

// Events of a validation.
const (
	// EventPull: the image is not local and is being pulled.
	EventPull EventKind = "pull"
	// EventCleanup: a container an interrupted run left was removed (--resume).
	EventCleanup EventKind = "cleanup"
	// EventPhase: a launch reached a phase.
	EventPhase EventKind = "phase"
	// EventObserved: a launch ended and its observation is on disk.
	EventObserved EventKind = "observed"
	// EventWarning: something the run goes on without; once per run, the
	// first launch whose GPU memory could not be read (Observation.PeakError).
	EventWarning EventKind = "warning"
)

// ErrNoEdge: the estimate says the model does not start at all on the
// hardware, so there is no predicted edge to probe.
var ErrNoEdge = errors.New("probe: no predicted edge")

// Validate recommends a --max-total-tokens confirmed on fresh launches
// near the estimate's edge: it plans the search from the estimate, asks the engine for the image,
// opens and locks the results file (reading it back, repairing a torn last
// line) and writes the run's header, with Resume removes the containers
// the file's runs left, pulls the image when it is missing, and runs
// Search, appending each launch to the file before the next starts. It
// never prints: progress goes to v.Launch.Progress.
func Validate(ctx context.Context, v Validation) (Result, error) {
	plan, zero, err := PlanFor(v)
	if err != nil {
		return Result{}, err
	}
	res := Result{Plan: plan, Estimate: zero}
	// The engine answers before the file is created or locked.
	haveImage, err := v.Launch.Runtime.ImageExists(ctx, v.Launch.Image)
	if err != nil {
		return res, err
	}
	rec, err := openRecord(v, plan.Prefill)
	if err != nil {
		return res, err
	}
	defer rec.store.Close()
	res.RunID, res.Resumed = rec.runID, len(rec.done)
	if v.Resume {
		seq, err := removeLeftovers(ctx, v.Launch, rec.runIDs, rec.runID)
		if err != nil {
			return res, err
		}
		rec.seq = max(rec.seq, seq)
	}
	if err := ensureImage(ctx, v.Launch, haveImage); err != nil {
		return res, err
	}
	cfg := v.Launch
	cfg.RunID, cfg.Predict = rec.runID, plan.Predict
	if cfg.Launch.NumShard == 0 {
		cfg.Launch.NumShard = v.Hardware.Count
	}
	if cfg.Launch.CUDAMemoryFraction == 0 {
		cfg.Launch.CUDAMemoryFraction = v.Settings.CUDAMemoryFraction
	}
	if cfg.Launch.GPUMemoryUtilization == 0 {
		cfg.Launch.GPUMemoryUtilization = v.Settings.GPUMemoryUtilization
	}
	if cfg.Launch.MemFractionStatic == 0 {
		cfg.Launch.MemFractionStatic = v.Settings.MemFractionStatic
	}
	res.Edge, err = Search(ctx, plan, rec.launcher(&cfg), rec.done)
	if r := res.Edge.Recommended; r.MaxTotalTokens > 0 {
		res.AtRecommended = newEstimator(v).at(r)
	}
	if err == nil && v.Hold != nil && res.Edge.Confirmed {
		err = rec.hold(ctx, &cfg, &res, v.Hold)
	}
	return res, err
}

// hold launches the confirmed recommendation once more and runs fn while
// it serves; the launch is appended to the results like the others.
func (r *record) hold(ctx context.Context, cfg *Config, res *Result, fn func(context.Context, HeldServer) error) error {
	l := &launcher{Config: cfg, hold: fn}
	r.seq++
	o, err := l.launch(ctx, res.Edge.Recommended, r.seq)
	if err != nil {
		return err
	}
	if err := r.store.Append(o); err != nil {
		return err
	}
	r.emit(Event{Kind: EventObserved, Launch: o.Seq, Point: o.Point, Observation: &o})
	res.Held, res.HoldErr = &o, l.held
	if !o.OK() && l.held == nil {
		res.HoldErr = fmt.Errorf("probe: the held launch at the recommendation did not serve: %s", o.Failure)
	}
	return nil
}

// PlanFor is the search plan Validate makes for v: the estimate's edge,
// its predictor and shifts, at the prefill the estimate defaults to when
// v.Settings leaves it 0; and the estimate at the engine's defaults. It
// fails with ErrNoEdge when the estimate says nothing starts.
func PlanFor(v Validation) (Plan, estimate.Result, error) {
	est := newEstimator(v)
	zero, err := est.run(v.Settings)
	if err != nil {
		return Plan{}, zero, fmt.Errorf("probe: estimate %s: %w", v.Launch.Model, err)
	}
	est.base.MaxBatchPrefillTokens = zero.Startup.MaxBatchPrefillTokens
	plan := est.plan(v)
	if plan.Predicted == 0 {
		return plan, zero, fmt.Errorf("%w: %s does not start on %d × %s at all", ErrNoEdge, v.Launch.Model, v.Hardware.Count, v.Hardware.GPU.TotalBytes)
	}
	return plan, zero, nil
}

// estimator is the estimate for one model, hardware and engine, with the
// run's fixed settings.
type estimator struct {
	model estimate.Model
	hw    estimate.Hardware
	eng   estimate.Engine
	base  estimate.Settings
}

func newEstimator(v Validation) *estimator {
	name := "tgi"
	if v.Launch.Engine != nil {
		name = v.Launch.Engine.Name()
	}
	return &estimator{model: v.Model, hw: v.Hardware, eng: estimate.Engine{Name: name, Version: v.EngineVersion}, base: v.Settings}
}

func (e *estimator) run(s estimate.Settings) (estimate.Result, error) {
	return estimate.Run(e.model, e.hw, e.eng, s)
}

// at is the whole estimate at one point (zero when it cannot be made).
func (e *estimator) at(p Point) estimate.Result {
	s := e.base
	s.MaxInputTokens, s.MaxTotalTokens = p.MaxInputTokens, p.MaxTotalTokens
	if p.MaxBatchPrefillTokens > 0 {
		s.MaxBatchPrefillTokens = p.MaxBatchPrefillTokens
	}
	r, err := e.run(s)
	if err != nil {
		return estimate.Result{}
	}
	return r
}

// predict is the estimate at one point (zero when it cannot be made).
func (e *estimator) predict(p Point) Estimate {
	s := e.base
	s.MaxInputTokens, s.MaxTotalTokens = p.MaxInputTokens, p.MaxTotalTokens
	r, err := e.run(s)
	if err != nil || r.KVBytesPerToken == 0 {
		return Estimate{}
	}
	st := r.Startup
	est := Estimate{Fits: st.Fits, Budget: st.MaxBatchTotalTokens, WarmTokens: st.WarmupTokens,
		WarmBytes: int64(st.WarmupBytes), Capacity: int64(st.CapacityBytes), TokenBytes: int64(r.KVBytesPerToken), KVBytes: int64(r.PerGPU.KVCache)}
	if e.eng.Name != "tgi" {
		// vLLM and SGLang allocate the whole pool before they serve, so a
		// peak read until then is the pool's, not a warm-up's: the shift
		// comes from the pool they report alone.
		est.WarmBytes = 0
	}
	return est
}

// shifted is the estimate's edge with what launches showed it missed:
// its boundary, or a larger value in a tooth of the warm-up sawtooth
// above it (see teeth).
func (e *estimator) shifted(sh Shift) int {
	s := e.base
	s.ExtraOverheadBytes, s.ExtraReserveBytes = estimate.Bytes(sh.Overhead), estimate.Bytes(sh.Reserve)
	r, err := e.run(s)
	if err != nil {
		return 0
	}
	return e.teeth(s, r.Boundary.MaxTotalTokens)
}

// maxTeeth is how many teeth of the sawtooth teeth searches: with k warm-up
// requests the tooth spans (P/k, P/(k−1)], so teeth 2–8 cover every value
// above P/8.
const maxTeeth = 8

// teeth returns the largest max_total_tokens above b that the estimate
// with s says starts, b when none does. Below max_batch_prefill_tokens + 1
// TGI's warm-up is ⌈P/(T−1)⌉ requests each holding T − 1 KV tokens
// (docs/ENGINES.md §2.2), so what it holds is a sawtooth in T: values start
// on disjoint ranges, and a boundary found by bisection can stop at the top
// of a lower tooth. Within one tooth the warm-up only grows with T, so each
// tooth above b is bisected on its own.
func (e *estimator) teeth(s estimate.Settings, b int) int {
	best := b
	for k := 2; k <= maxTeeth && s.MaxBatchPrefillTokens > 0; k++ {
		if top, ok := e.toothTop(s, k, best+1); ok {
			best = max(best, top)
		}
	}
	return best
}

// toothTop is the largest value of tooth k (k warm-up requests: T − 1 in
// [⌈P/k⌉, ⌈P/(k−1)⌉ − 1]) from `from` up that the estimate with s says
// starts; ok is false when none does.
func (e *estimator) toothTop(s estimate.Settings, k, from int) (int, bool) {
	p := s.MaxBatchPrefillTokens
	fits := func(t int) bool {
		s.MaxInputTokens, s.MaxTotalTokens = t-1, t
		r, err := e.run(s)
		return err == nil && r.Startup.Fits
	}
	lo, hi := max((p+k-1)/k+1, from), (p+k-2)/(k-1)
	if lo > hi || !fits(lo) {
		return 0, false
	}
	for lo < hi { // largest fitting value in [lo, hi]
		if mid := (lo + hi + 1) / 2; fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, true
}

// ranges are the runs of max_total_tokens the estimate with sh says start,
// from P/8 up: each tooth's from its bottom, then prefill + 1 up to the
// boundary; runs that touch are one.
func (e *estimator) ranges(sh Shift) []Range {
	s := e.base
	s.ExtraOverheadBytes, s.ExtraReserveBytes = estimate.Bytes(sh.Overhead), estimate.Bytes(sh.Reserve)
	p := s.MaxBatchPrefillTokens
	var out []Range
	add := func(r Range) {
		if n := len(out); n > 0 && out[n-1].Hi+1 >= r.Lo {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			return
		}
		out = append(out, r)
	}
	for k := maxTeeth; k >= 2 && p > 0; k-- {
		if top, ok := e.toothTop(s, k, 0); ok {
			add(Range{Lo: (p+k-1)/k + 1, Hi: top})
		}
	}
	r, err := e.run(s)
	if b := r.Boundary.MaxTotalTokens; err == nil && b > p {
		add(Range{Lo: p + 1, Hi: b})
	}
	return out
}

// plan is the search's plan: the estimate's edge, up to the model's context.
func (e *estimator) plan(v Validation) Plan {
	return Plan{Predicted: e.shifted(Shift{}), Cap: v.Model.MaxPositions, Prefill: e.base.MaxBatchPrefillTokens,
		Tolerance: v.Tolerance, Confirm: v.Confirm, Margin: v.Margin, MaxLaunches: v.MaxLaunches, Predict: e.predict, Shifted: e.shifted, Ranges: e.ranges}
}

// record is the results file of a run and what it already holds.
type record struct {
	store *Store
	runID string
	// runIDs are the runs the file names (headers and observations):
	// the only runs whose containers --resume removes.
	runIDs []string
	// done holds the resumed observations by point; seq is the last launch's number.
	done   map[string][]Observation
	seq    int
	events func(Event)
	// warned: the run has warned that a launch's GPU memory went unread.
	warned bool
}

// openRecord opens and locks v.Results and writes the run's header before
// any launch; with Resume, the run goes on under the id and numbering of
// the file's last run. prefill is the prefill of every point.
func openRecord(v Validation, prefill int) (*record, error) {
	store, prev, err := OpenStore(v.Results)
	if err != nil {
		return nil, err
	}
	r := &record{store: store, runID: v.Launch.RunID, runIDs: prev.RunIDs, done: map[string][]Observation{}, events: v.Launch.Progress}
	if v.Resume {
		for _, o := range prev.Observations {
			r.done[o.Point.Key()] = append(r.done[o.Point.Key()], o)
			r.seq = max(r.seq, o.Seq)
		}
		if prev.LastRun != "" {
			r.runID = prev.LastRun
		}
	}
	if r.runID == "" {
		r.runID = newRunID()
	}
	if err := store.WriteHeader(header(v, r.runID, prefill)); err != nil {
		store.Close()
		return nil, err
	}
	return r, nil
}

// header is the run header of v.
func header(v Validation, runID string, prefill int) results.Header {
	h := results.Header{Run: runID, Started: time.Now().UTC(), Model: v.Launch.Model, EngineVersion: v.EngineVersion, Image: v.Launch.Image,
		GPU: v.Hardware.GPU.Name, GPUBytes: int64(v.Hardware.GPU.TotalBytes), GPUCount: v.Hardware.Count, GPUIDs: v.Launch.GPUIDs,
		Settings: results.RunSettings{CUDAMemoryFraction: v.Settings.CUDAMemoryFraction, GPUMemoryUtilization: v.Settings.GPUMemoryUtilization,
			MemFractionStatic: v.Settings.MemFractionStatic, MaxBatchPrefillTokens: prefill, Tolerance: v.Tolerance,
			Confirm: v.Confirm, MarginBytes: v.Margin, MaxLaunches: v.MaxLaunches, Corrections: v.Settings.Corrections, Resume: v.Resume}}
	if v.Launch.Engine != nil {
		h.Engine = v.Launch.Engine.Name()
		h.LimitFlag, h.PrefillFlag = EngineFlags(h.Engine)
	}
	return h
}

// newRunID returns a run id unique across runs on one engine: the Unix
// time and 64 random bits ("1767225600-3fa2c1d4e5f60718"), a valid part
// of a container name.
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(b[:])
}

// launcher launches with cfg and appends each observation before the
// search goes on.
func (r *record) launcher(cfg *Config) Launcher {
	inner := cfg.Launcher(&r.seq)
	return func(ctx context.Context, p Point) (Observation, error) {
		o, err := inner(ctx, p)
		if err != nil {
			return o, err
		}
		if err := r.store.Append(o); err != nil {
			return o, err
		}
		r.emit(Event{Kind: EventObserved, Launch: o.Seq, Point: p, Observation: &o})
		if o.PeakError != "" && !r.warned {
			r.warned = true
			r.emit(Event{Kind: EventWarning, Launch: o.Seq, Point: p, Warning: fmt.Sprintf(
				"launch %d: GPU memory not read from %s; no peak recorded (peak_error in the results; said once per run)", o.Seq, o.PeakError)})
		}
		return o, nil
	}
}

func (r *record) emit(ev Event) {
	if r.events != nil {
		r.events(ev)
	}
}

// removeLeftovers removes the containers that crashed runs left behind:
// those labelled with one of runIDs (the runs the results file names),
// never another run's.
//
// It returns the largest launch number among the removed containers of
// run (their names end in -<seq>): a launch the crash left unrecorded, whose
// number the resumed run must not take again, since the engine may still
// hold its name for a moment.
func removeLeftovers(ctx context.Context, c Config, runIDs []string, run string) (int, error) {
	seq := 0
	for _, id := range runIDs {
		left, err := c.Runtime.List(ctx, map[string]string{RunLabel: id})
		if err != nil {
			return seq, fmt.Errorf("probe: list containers of run %s: %w", id, err)
		}
		for _, ct := range left {
			if err := c.Runtime.Remove(ctx, ct.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return seq, fmt.Errorf("probe: remove container %s of run %s: %w", ct.ID, id, err)
			}
			if c.Progress != nil {
				c.Progress(Event{Kind: EventCleanup, Container: ct.ID})
			}
			if rest, ok := strings.CutPrefix(strings.TrimPrefix(ct.Name, "/"), "vramcalc-"+run+"-"); ok && id == run {
				if n, err := strconv.Atoi(rest); err == nil {
					seq = max(seq, n)
				}
			}
		}
	}
	return seq, nil
}

// ensureImage pulls the image when it is not local (have).
func ensureImage(ctx context.Context, c Config, have bool) error {
	if have {
		return nil
	}
	if c.Progress != nil {
		c.Progress(Event{Kind: EventPull, Image: c.Image})
	}
	return c.Runtime.Pull(ctx, c.Image, nil)
}
