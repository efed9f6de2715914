package probe

import (
	"context"
	"fmt"
	"math"
)

// Predictor is the estimate for one point: whether it starts, the KV budget
// and how many of those tokens the warm-up itself reserved (so that the
// budget's headroom can be compared with what the engine reports).
type Predictor func(Point) Estimate

// Estimate is the estimator's view of one point.
type Estimate struct {
	Fits bool
	// Budget is the predicted max_batch_total_tokens.
	Budget int
	// WarmTokens are the KV tokens the warm-up batch reserves (R·⌈(T−1)/BS⌉·BS).
	WarmTokens int
	// WarmBytes is the device memory in use at the warm-up peak, per GPU.
	WarmBytes int64
	// TokenBytes is the KV cache of one token on one GPU.
	TokenBytes int64
}

// Headroom is the KV the pool gets beyond the warm-up's own blocks, in tokens.
func (e Estimate) Headroom() int { return e.Budget - e.WarmTokens }

// Plan says where to look for the edge of --max-total-tokens (with
// --max-input-tokens = total − 1) and how precisely.
type Plan struct {
	// Predicted is the estimate's largest max_total_tokens that starts.
	Predicted int
	// Cap is the largest value worth trying (max_position_embeddings).
	Cap int
	// Prefill is --max-batch-prefill-tokens for every point (0: engine default).
	Prefill int
	// Tolerance is the relative half-width the boundary is pinned to (0.01 = ±1%).
	Tolerance float64
	// MaxLaunches stops a search that does not converge.
	MaxLaunches int
	// Predict gives the estimate for any point.
	Predict Predictor
	// Shifted is the estimate's edge with delta more bytes of each GPU in
	// use (negative: fewer) than the estimate assumes; Shifted(0) == Predicted.
	Shifted func(delta int64) int
}

// Launcher starts the engine at one point and reports what happened.
type Launcher func(ctx context.Context, p Point) (Observation, error)

// Edge is the result of a search: the largest total that started (Lo), the
// smallest that failed (Hi), and every launch made.
type Edge struct {
	Lo, Hi int
	// Pinned is true when Hi − Lo ≤ Tolerance·(Hi + Lo), i.e. the boundary
	// (Lo+Hi)/2 is known to ±Tolerance; or when Lo reached the cap.
	Pinned bool
	// AtCap is true when the cap itself started.
	AtCap        bool
	Launches     int
	Observations []Observation
}

// Boundary is the middle of the pinned interval (Lo when at the cap).
func (e Edge) Boundary() int {
	if e.AtCap || e.Hi == 0 {
		return e.Lo
	}
	return (e.Lo + e.Hi) / 2
}

func (pl Plan) point(t int) Point {
	return Point{MaxInputTokens: t - 1, MaxTotalTokens: t, MaxBatchPrefillTokens: pl.Prefill}
}

// Search pins the largest --max-total-tokens that starts, launching only
// near the predicted edge.
//
// Every launch is turned into a correction of the estimate (see corrected):
// a start's reported KV budget places the edge almost exactly, a failure's
// NVML peak roughly. So the first launch goes inside the predicted edge by
// the larger of 10% and 1.25 GiB of warm-up memory (the uncertainty of the
// runtime terms the estimate cannot see), where it most likely starts; the
// next two straddle the corrected edge at ±0.9·Tolerance. Without a usable
// correction the search steps down by a growing margin while nothing has
// started, else bisects what is left. Points in done (a resumed results
// file) are not launched again.
func Search(ctx context.Context, pl Plan, launch Launcher, done map[string]Observation) (Edge, error) {
	s := newSearch(pl, launch, done)
	for !s.pinned() && s.e.Launches < s.maxLaunches && ctx.Err() == nil {
		t := s.next()
		o, err := s.try(ctx, t)
		if err != nil {
			return s.e, fmt.Errorf("probe: launch at max_total_tokens %d: %w", t, err)
		}
		s.record(o, t)
	}
	s.e.Pinned = s.pinned()
	if err := ctx.Err(); err != nil {
		// Interrupted between launches: a cancelled search is never done.
		return s.e, fmt.Errorf("probe: search interrupted after %d launches: %w", s.e.Launches, err)
	}
	return s.e, nil
}

// search is the state of one Search: the interval so far and the edge the
// launches' corrections place.
type search struct {
	pl          Plan
	tol         float64
	maxLaunches int
	capT        int
	launch      Launcher
	done        map[string]Observation
	e           Edge
	// edge is the corrected edge (0: none yet, or dropped).
	edge int
	// haveBudget: edge comes from a reported KV budget, not a peak.
	haveBudget bool
	// step is the growing margin of steps without a correction.
	step  float64
	first bool
}

// newSearch fills the plan's defaults: ±1%, 12 launches, no cap.
func newSearch(pl Plan, launch Launcher, done map[string]Observation) *search {
	s := &search{pl: pl, tol: pl.Tolerance, maxLaunches: pl.MaxLaunches, capT: pl.Cap, launch: launch, done: done, step: 0.1, first: true}
	if s.tol <= 0 {
		s.tol = 0.01
	}
	if s.maxLaunches <= 0 {
		s.maxLaunches = 12
	}
	if s.capT <= 0 {
		s.capT = math.MaxInt32
	}
	return s
}

// try launches at t, or takes the resumed observation of that point.
func (s *search) try(ctx context.Context, t int) (Observation, error) {
	p := s.pl.point(t)
	if o, ok := s.done[p.Key()]; ok {
		s.e.Observations = append(s.e.Observations, o)
		return o, nil
	}
	o, err := s.launch(ctx, p)
	if err != nil {
		return o, err
	}
	s.e.Launches++
	s.e.Observations = append(s.e.Observations, o)
	return o, nil
}

// pinned reports whether the interval is narrow enough, or the cap started.
func (s *search) pinned() bool {
	if s.e.Lo >= s.capT {
		s.e.AtCap = true
		return true
	}
	return s.e.Lo > 0 && s.e.Hi > 0 && float64(s.e.Hi-s.e.Lo) <= s.tol*float64(s.e.Hi+s.e.Lo)
}

// next picks the next max_total_tokens to launch.
func (s *search) next() int {
	if s.e.Hi > 0 && s.edge >= s.e.Hi {
		// The correction says the edge is above a point that already
		// failed: it missed something (a peak-based one cannot see the
		// wiggle reserve). Drop it.
		s.edge = 0
	}
	var t int
	switch {
	case s.first:
		t = s.pl.firstPoint()
		s.first = false
	case s.edge > 0:
		t = s.aroundEdge()
	case s.e.Lo == 0:
		t = s.stepDown()
	case s.e.Hi == 0:
		t = s.stepUp()
	default:
		t = s.bisect()
	}
	return s.inside(t)
}

// aroundEdge straddles the corrected edge at ±0.9·Tolerance, one side at a
// time, falling back to stepping down or bisecting when both sides are
// already known.
func (s *search) aroundEdge() int {
	e, edge, capT := s.e, float64(s.edge), s.capT
	loT := int(math.Floor(edge * (1 - 0.9*s.tol)))
	hiT := int(math.Ceil(edge * (1 + 0.9*s.tol)))
	// A start within 1.1·Tolerance below the edge is close enough: one
	// failure just outside it pins the edge.
	closeLo := int(math.Floor(edge * (1 - 1.1*s.tol)))
	switch {
	case s.edge >= capT && e.Hi == 0:
		return capT
	case e.Lo < closeLo && (e.Hi == 0 || loT < e.Hi):
		return loT
	case (e.Hi == 0 || hiT < e.Hi) && hiT > e.Lo:
		return hiT
	case e.Lo == 0:
		return s.stepDown()
	}
	return s.bisect()
}

// stepDown goes below the lowest failure by a margin that doubles (to at
// most 50%) while nothing has started.
func (s *search) stepDown() int {
	t := int(math.Floor(float64(s.e.Hi) * (1 - s.step)))
	s.step = min(2*s.step, 0.5)
	return t
}

// stepUp goes above the highest start by a margin that doubles while
// nothing has failed.
func (s *search) stepUp() int {
	t := int(math.Ceil(float64(s.e.Lo) * (1 + s.step)))
	s.step *= 2
	return t
}

func (s *search) bisect() int { return s.e.Lo + (s.e.Hi-s.e.Lo)/2 }

// inside keeps t within [2, cap] and strictly between Lo and Hi.
func (s *search) inside(t int) int {
	t = min(max(t, 2), s.capT)
	if t > s.e.Lo && (s.e.Hi == 0 || t < s.e.Hi) {
		return t
	}
	if s.e.Hi == 0 {
		return min(s.capT, s.e.Lo+max(s.e.Lo/10, 1))
	}
	return s.e.Lo + max((s.e.Hi-s.e.Lo)/2, 1)
}

// record narrows the interval with a launch at t and takes its correction.
func (s *search) record(o Observation, t int) {
	if o.OK() {
		s.e.Lo = max(s.e.Lo, t)
	} else if s.e.Hi == 0 || t < s.e.Hi {
		s.e.Hi = t
	}
	// A budget-based correction beats a peak-based one (which misses the
	// wiggle reserve): keep the former once there is one.
	if b, fromBudget, ok := s.pl.corrected(o, t); ok && b > 0 && (fromBudget || !s.haveBudget) {
		s.edge, s.haveBudget = b, s.haveBudget || fromBudget
	}
}

// firstPoint is inside the predicted edge by the larger of 10% and the
// tokens 1.25 GiB of warm-up memory buys.
func (pl Plan) firstPoint() int {
	t := pl.Predicted
	if pl.Cap > 0 && t >= pl.Cap {
		return pl.Cap
	}
	margin := t / 10
	if pl.Predict != nil && t > 32 {
		d := max(t/100, 16)
		a, b := pl.Predict(pl.point(t-d)), pl.Predict(pl.point(t))
		if per := float64(b.WarmBytes-a.WarmBytes) / float64(d); per > 0 {
			margin = max(margin, int(1.25*float64(1<<30)/per))
		}
	}
	first := max(t-margin, 2)
	// Below max_batch_prefill_tokens + 1 the warm-up is split into several
	// requests that together reserve more KV than a start needs, so a start
	// there reports no headroom to correct from: stay at or above it.
	if pl.Prefill > 0 && t > pl.Prefill+1 {
		first = max(first, pl.Prefill+1)
	}
	return first
}

// corrected places the edge from a launch at t. What the estimate cannot
// see (runtime overhead, the activation peak's real size, the wiggle
// reserve) acts on the edge as so many bytes of each GPU more or less in
// use, so the launch is turned into such a shift and the estimate's own
// edge is recomputed with it (a secant step along the estimate's physics,
// which keeps warm-up splits and block rounding right):
//   - a KV budget the engine reported with blocks beyond the warm-up's
//     own: (reported − predicted) tokens × KV bytes per token;
//   - otherwise the NVML peak at warm-up against the predicted one (this
//     misses the wiggle reserve, which only shows in the budget).
//
// fromBudget says which; ok is false when the launch showed neither.
func (pl Plan) corrected(o Observation, t int) (edge int, fromBudget, ok bool) {
	if pl.Predict == nil || pl.Shifted == nil {
		return 0, false, false
	}
	est := pl.Predict(pl.point(t))
	reported := o.Budget()
	if reported == 0 && o.Reported.KVBlocks > 0 {
		reported = o.Reported.KVBlocks * max(o.Reported.BlockSize, 1)
	}
	if reported > est.WarmTokens && est.Budget > est.WarmTokens && est.TokenBytes > 0 {
		delta := -int64(reported-est.Budget) * est.TokenBytes
		return pl.Shifted(delta), true, true
	}
	// A peak below the prediction may be a transient the sampler missed, so
	// the peak only ever moves the edge down.
	if peak := o.MaxPeak(); peak > 0 && est.WarmBytes > 0 && int64(peak) > est.WarmBytes {
		return pl.Shifted(int64(peak) - est.WarmBytes), false, true
	}
	return 0, false, false
}
