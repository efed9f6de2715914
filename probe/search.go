package probe

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
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
	// Capacity is what the warm-up may use per GPU (the card, capped by
	// the memory fraction).
	Capacity int64
	// TokenBytes is the KV cache of one token on one GPU.
	TokenBytes int64
	// KVBytes is the KV pool per GPU (vLLM's "Available KV cache memory"),
	// also at a start vLLM refuses for its max_model_len.
	KVBytes int64
}

// Headroom is the KV the pool gets beyond the warm-up's own blocks, in tokens.
func (e Estimate) Headroom() int { return e.Budget - e.WarmTokens }

// Defaults of a Plan.
const (
	// DefaultConfirm is how many consecutive fresh launches must start at
	// the recommended value (validate --confirm).
	DefaultConfirm = 3
	// DefaultMargin is the launch-to-launch spread of memory in use per GPU
	// assumed before any is seen (validate --margin): 256 MiB, above the
	// 0–200 MB of per-launch jitter (allocator state, NCCL, other
	// processes) the simulator benchmark draws; the margin grows to twice
	// the spread the launches show.
	DefaultMargin = 256 << 20
)

// Plan says where to look for the edge of --max-total-tokens (with
// --max-input-tokens = total − 1) and how to confirm a recommendation.
type Plan struct {
	// Predicted is the estimate's largest max_total_tokens that starts.
	Predicted int
	// Cap is the largest value worth trying (max_position_embeddings).
	Cap int
	// Prefill is --max-batch-prefill-tokens for every point (0: engine default).
	Prefill int
	// Tolerance is how far below the wanted recommendation a value that
	// already started may be and still be taken instead (0.01 = 1%), and
	// the relative width at which an engine that reports no budget counts
	// as bracketed.
	Tolerance float64
	// Confirm is K: the recommendation must start on K consecutive fresh
	// launches (default DefaultConfirm).
	Confirm int
	// Margin is the spread of memory in use per GPU, in bytes, assumed
	// before the launches show one (default DefaultMargin).
	Margin int64
	// MaxLaunches stops a search that does not converge.
	MaxLaunches int
	// Predict gives the estimate for any point.
	Predict Predictor
	// Shifted is the estimate's edge with what the launches showed it
	// missed; Shifted(Shift{}) == Predicted.
	Shifted func(Shift) int
	// Ranges, when set, are the runs of values the estimate with a shift
	// says start, in increasing order: more than one is fragmentation.
	Ranges func(Shift) []Range
}

// Shift is what launches show the estimate missed, in bytes per GPU:
// Overhead more in use through the warm-up (the CUDA context, the
// activation peak, other processes; what varies from launch to launch),
// Reserve more kept back from the KV pool (the wiggle room). Negative
// values mean less.
type Shift struct {
	Overhead, Reserve int64
}

// Launcher starts the engine at one point and reports what happened.
type Launcher func(ctx context.Context, p Point) (Observation, error)

// Edge is what a search saw and what it recommends. It never reports an
// untested value: Lo and Hi are values launched, and Recommended is a value
// that started on Started of Tried launches, the last Confirm of them in a
// row when Confirmed.
type Edge struct {
	// Lo is the largest max_total_tokens that started, Hi the smallest
	// that failed (0: none).
	Lo, Hi int
	// AtCap is true when the model's context itself started.
	AtCap        bool
	Launches     int
	Observations []Observation
	// Recommended is the point to deploy (zero when no launch gave one).
	Recommended Point
	// Confirmed: Recommended started on the plan's K consecutive launches
	// at it, the last ones made there.
	Confirmed bool
	// Tried and Started count the launches at Recommended.
	Tried, Started int
	// SpreadBytes is the launch-to-launch spread of memory in use per GPU
	// the launches showed (0: none seen).
	SpreadBytes int64
	// NotTheLimit: launches at different values failed with a CUDA OOM
	// after the engine had sized a KV pool that held their length (vLLM
	// capturing its CUDA graphs, say): memory outside the pool is short
	// whatever the value, so the search stopped; lower the memory fraction.
	NotTheLimit bool
	// Spread: a launch failed at or below a value that started on another
	// launch, and the recommendation was moved down to cover it.
	Spread bool
	// Fragmented: a value failed below one that started because its own
	// warm-up needs more memory (TGI's warm-up batch is a sawtooth in
	// max_total_tokens); Ranges are the runs of values seen to start.
	Fragmented bool
	Ranges     []Range
	// Notes say in one line each what the search concluded and why.
	Notes []string
}

// notTheLimitLaunches is how many launches at different values must fail
// with a CUDA OOM after sizing a pool that held their length before the
// search stops (Edge.NotTheLimit).
const notTheLimitLaunches = 2

// notTheLimit are the distinct values whose launches failed with a CUDA
// OOM after the engine reported a KV pool at least as long as the value.
func (s *search) notTheLimit() []int {
	var out []int
	for _, o := range s.e.Observations {
		t := o.Point.MaxTotalTokens
		if !o.OK() && o.Failure == estimate.FailureCUDAOOM && o.Budget() >= t && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// joinInts is "a and b" or "a, b and c" with thousands separators.
func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = thousands(x)
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// thousands writes n with thousands separators (1,234,567).
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Range is a run of launched values of max_total_tokens that all started.
type Range struct {
	Lo int `json:"lo"`
	Hi int `json:"hi"`
}

func (pl Plan) point(t int) Point {
	return Point{MaxInputTokens: t - 1, MaxTotalTokens: t, MaxBatchPrefillTokens: pl.Prefill}
}

// Search finds a --max-total-tokens to recommend and confirms it.
//
// Each launch is turned into a shift: how many bytes of each GPU the engine
// had in use beyond what the estimate assumes (see budgetShift: a reported
// KV budget, from a start or from a failure that logged its KV blocks, gives
// it exactly; a warm-up OOM's shortfall or an NVML peak gives a lower
// bound). The recommendation is the estimate's edge with the worst shift
// seen plus a margin of max(Plan.Margin, 2 × the spread of the shifts), and
// it must then start on Plan.Confirm consecutive fresh launches. A failure
// at the recommendation (the spread is real) moves it down and the
// confirmations start over. The first launch goes where the estimate alone
// would recommend. Points in done (a resumed results file) are taken in
// order instead of launched again.
//
// A cancelled ctx ends the search with an error wrapping ctx.Err(): a
// cancelled search is never done.
func Search(ctx context.Context, pl Plan, launch Launcher, done map[string][]Observation) (Edge, error) {
	s := newSearch(pl, launch, done)
	for !s.confirmed() && s.e.Launches < s.maxLaunches && len(s.notTheLimit()) < notTheLimitLaunches {
		if err := ctx.Err(); err != nil {
			return s.finish(), fmt.Errorf("probe: search cancelled after %d launches: %w", s.e.Launches, err)
		}
		t := s.next()
		o, err := s.try(ctx, t)
		if err != nil {
			return s.finish(), fmt.Errorf("probe: launch at max_total_tokens %d: %w", t, err)
		}
		s.record(o, t)
	}
	e := s.finish()
	if err := ctx.Err(); err != nil {
		// Interrupted after the last launch: a cancelled search is never done.
		return e, fmt.Errorf("probe: search cancelled after %d launches: %w", e.Launches, err)
	}
	return e, nil
}

// search is the state of one Search.
type search struct {
	pl          Plan
	tol         float64
	k           int
	margin      int64
	maxLaunches int
	capT        int
	launch      Launcher
	done        map[string][]Observation
	e           Edge
	// measured holds what each launch showed of the shift.
	measured []measure
	// floor is the largest lower bound on the overhead from warm-up
	// failures (valid when haveFloor).
	floor     int64
	haveFloor bool
	// rec is the value being confirmed (0: none yet); reduced says its
	// margin was cut because no value keeps the whole margin.
	rec     int
	reduced bool
	// step is the growing margin of steps without a correction.
	step  float64
	first bool
}

// newSearch fills the plan's defaults: 1%, K = 3, 256 MiB, 12 launches, no cap.
func newSearch(pl Plan, launch Launcher, done map[string][]Observation) *search {
	s := &search{pl: pl, tol: pl.Tolerance, k: pl.Confirm, margin: pl.Margin, maxLaunches: pl.MaxLaunches, capT: pl.Cap,
		launch: launch, done: done, step: 0.1, first: true}
	if s.tol <= 0 {
		s.tol = 0.01
	}
	if s.k <= 0 {
		s.k = DefaultConfirm
	}
	if s.margin <= 0 {
		s.margin = DefaultMargin
	}
	if s.maxLaunches <= 0 {
		s.maxLaunches = 12
	}
	if s.capT <= 0 {
		s.capT = math.MaxInt32
	}
	return s
}

// try launches at t, or takes the next resumed observation of that point.
func (s *search) try(ctx context.Context, t int) (Observation, error) {
	p := s.pl.point(t)
	if q := s.done[p.Key()]; len(q) > 0 {
		s.done[p.Key()] = q[1:]
		s.e.Observations = append(s.e.Observations, q[0])
		return q[0], nil
	}
	o, err := s.launch(ctx, p)
	if err != nil {
		return o, err
	}
	s.e.Launches++
	s.e.Observations = append(s.e.Observations, o)
	return o, nil
}

// confirmed reports whether the recommendation has started K times in a row.
func (s *search) confirmed() bool { return s.rec > 0 && s.streak(s.rec) >= s.k }

// streak is how many of the last launches at t started, counting back to
// the latest failure there.
func (s *search) streak(t int) int {
	n := 0
	for i := len(s.e.Observations) - 1; i >= 0; i-- {
		o := s.e.Observations[i]
		if o.Point.MaxTotalTokens != t {
			continue
		}
		if !o.OK() {
			break
		}
		n++
	}
	return n
}

// next picks the next max_total_tokens to launch.
func (s *search) next() int {
	switch {
	case s.first:
		s.first = false
		return s.inside(s.pl.firstPoint(s.margin))
	case s.rec > 0:
		return s.rec
	case s.e.Lo == 0:
		if t := s.deep(); t > 0 {
			return s.inside(t)
		}
	}
	switch {
	case s.e.Lo == 0:
		return s.inside(s.stepDown())
	case s.e.Hi == 0:
		return s.inside(s.stepUp())
	}
	return s.inside(s.e.Lo + (s.e.Hi-s.e.Lo)/2)
}

// deep is where to go after failures that showed no budget, before
// anything started: the estimate's edge with the worst overhead seen (or
// its lower bound) plus the margin, and a reserve 5% of the card larger
// than it assumes (TGI_WIGGLE_ROOM 0.90 against 0.95 and below), so that
// the launch most likely starts and reports the budget that places the
// recommendation. 0 when that is not below the lowest failure.
func (s *search) deep() int {
	sh, _, ok := s.shift()
	if !ok && !s.haveFloor {
		return 0
	}
	if s.haveFloor {
		sh.Overhead = max(sh.Overhead, s.floor)
	}
	if s.pl.Predict != nil {
		sh.Reserve = max(sh.Reserve, s.pl.Predict(s.pl.point(max(s.pl.Predicted, 2))).Capacity/20)
	}
	t := s.pl.shifted(Shift{Overhead: sh.Overhead + s.margin, Reserve: sh.Reserve})
	if p := s.pl.Prefill; p > 0 && t <= p+1 && (s.e.Hi == 0 || p+2 < s.e.Hi) {
		// At or below prefill + 1 the budget is the warm-up's own blocks
		// and tells nothing: go just above, where a start reports it.
		t = p + 2
	}
	if t < 2 || (s.e.Hi > 0 && t >= s.e.Hi) {
		return 0
	}
	return t
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

// record takes a launch at t: the interval, its shift, and what it does
// to the recommendation.
func (s *search) record(o Observation, t int) {
	if o.OK() {
		s.e.Lo = max(s.e.Lo, t)
		s.e.AtCap = s.e.AtCap || t >= s.capT
	} else if s.e.Hi == 0 || t < s.e.Hi {
		s.e.Hi = t
	}
	if m := s.pl.measure(o, t); m.hasBudget || m.hasPeak {
		s.measured = append(s.measured, m)
	} else if d, ok := s.pl.failureShift(o, t); ok && (!s.haveFloor || d > s.floor) {
		s.floor, s.haveFloor = d, true
	}
	s.classify()
	want, reduced, ok := s.wanted()
	if !ok {
		return
	}
	if s.rec > 0 && s.streak(s.rec) > 0 && s.rec <= s.covered() {
		// The value being confirmed still started last time and the
		// spread seen so far still covers it: keep confirming it.
		return
	}
	s.rec, s.reduced = want, reduced
}

// wanted is the value to recommend from what the launches showed: the
// estimate's edge with the worst overhead seen plus the margin, below every
// unexplained failure, snapped to a value that already started within the
// tolerance below it. Until a launch reported a budget with headroom (the
// engine's reserve is unknown until then), only values at or below the
// prefill, where the budget cannot bind, are wanted. When no value keeps
// the margin, it is cut to twice the spread seen (reduced).
func (s *search) wanted() (t int, reduced bool, ok bool) {
	sh, spread, ok := s.shift()
	if !ok {
		t, ok = s.unreported()
		return t, false, ok
	}
	m := max(s.margin, 2*spread)
	t = s.pl.shifted(Shift{Overhead: sh.Overhead + m, Reserve: sh.Reserve})
	if t < 2 && 2*spread < m {
		t, reduced = s.pl.shifted(Shift{Overhead: sh.Overhead + 2*spread, Reserve: sh.Reserve}), true
	}
	if t < 2 {
		return 0, false, false
	}
	if t = s.belowFailures(min(t, s.capT)); !s.exact() && t > s.pl.Prefill {
		return 0, false, false
	}
	return s.snap(t), reduced, true
}

// exact reports whether a launch reported a budget with headroom.
func (s *search) exact() bool {
	return slices.ContainsFunc(s.measured, func(m measure) bool { return m.hasBudget })
}

// covered is the largest value the launches seen so far still allow
// without the margin: the edge of the worst overhead plus the spread once
// more.
func (s *search) covered() int {
	sh, spread, ok := s.shift()
	if !ok {
		return s.e.Lo
	}
	sh.Overhead += spread
	return s.belowFailures(min(s.pl.shifted(sh), s.capT))
}

// shift is the worst shift the launches showed and the spread of their
// overheads (ok false when none showed one). The reserve is the mean of
// budget minus peak over the launches that showed both (0 when none did:
// then a budget's whole shift counts as overhead, which overstates the
// warm-up when the engine keeps back less than the estimate assumes).
func (s *search) shift() (Shift, int64, bool) {
	var reserve, pairs int64
	for _, m := range s.measured {
		if m.hasBudget && m.hasPeak {
			reserve += m.budget - m.peak
			pairs++
		}
	}
	if pairs > 0 {
		reserve /= pairs
	}
	var overheads []int64
	for _, m := range s.measured {
		switch {
		case m.hasPeak && (m.hasBudget || pairs == 0 || m.peak >= s.pairedFloor()):
			overheads = append(overheads, m.peak)
		case m.hasBudget:
			overheads = append(overheads, m.budget-reserve)
		}
	}
	if len(overheads) == 0 {
		return Shift{}, 0, false
	}
	worst := slices.Max(overheads)
	spread := worst - slices.Min(overheads)
	if s.haveFloor {
		worst = max(worst, s.floor)
	}
	return Shift{Overhead: worst, Reserve: reserve}, spread, true
}

// unreported recommends for an engine that reported no budget: once the
// largest start and the smallest failure are within the tolerance (or the
// cap started), the largest start less the margin's tokens.
func (s *search) unreported() (int, bool) {
	e := s.e
	if e.Lo == 0 || (!e.AtCap && (e.Hi == 0 || float64(e.Hi-e.Lo) > s.tol*float64(e.Hi+e.Lo))) {
		return 0, false
	}
	t := e.Lo
	if s.pl.Predict != nil {
		if tb := s.pl.Predict(s.pl.point(t)).TokenBytes; tb > 0 {
			t -= int((s.margin + tb - 1) / tb)
		}
	}
	return s.snap(s.belowFailures(max(t, 2))), true
}

// belowFailures keeps t below every failure at or under it that the
// warm-up sawtooth does not explain, by the gap between that failure and
// the largest start (the spread in tokens) at least.
func (s *search) belowFailures(t int) int {
	for _, o := range s.e.Observations {
		f := o.Point.MaxTotalTokens
		if o.OK() || f > t || s.sawtooth(o) {
			continue
		}
		gap := max(s.e.Lo-f, int(math.Ceil(float64(f)*s.tol)), 1)
		t = min(t, f-gap)
	}
	return max(t, 2)
}

// snap takes the largest value that already started within the tolerance
// below t instead of t, so that its starts count.
func (s *search) snap(t int) int {
	best := t
	for _, o := range s.e.Observations {
		v := o.Point.MaxTotalTokens
		if o.OK() && v <= t && float64(v) >= float64(t)*(1-s.tol) && (best == t || v > best) && s.streak(v) > 0 {
			best = v
		}
	}
	return best
}

// sawtooth reports whether a failed launch is explained by its own
// warm-up: a warm-up OOM at a value whose warm-up the estimate sizes
// larger than that of a value that started above it.
func (s *search) sawtooth(f Observation) bool {
	if s.pl.Predict == nil || (f.Failure != estimate.FailureWarmupOOM && f.Failure != estimate.FailureCUDAOOM) {
		return false
	}
	fw := s.pl.Predict(f.Point).WarmBytes
	for _, o := range s.e.Observations {
		if o.OK() && o.Point.MaxTotalTokens > f.Point.MaxTotalTokens && s.pl.Predict(o.Point).WarmBytes < fw {
			return true
		}
	}
	return false
}

// classify marks the search as seeing spread or fragmentation once a value
// failed at or below one that started.
func (s *search) classify() {
	for _, f := range s.e.Observations {
		if f.OK() || f.Point.MaxTotalTokens > s.e.Lo {
			continue
		}
		if s.sawtooth(f) {
			s.e.Fragmented = true
		} else {
			s.e.Spread = true
		}
	}
}

// finish fills what the search recommends and why.
func (s *search) finish() Edge {
	e := s.e
	if s.rec > 0 {
		e.Recommended = s.pl.point(s.rec)
		for _, o := range e.Observations {
			if o.Point.MaxTotalTokens == s.rec {
				e.Tried++
				if o.OK() {
					e.Started++
				}
			}
		}
		e.Confirmed = s.confirmed()
	}
	e.SpreadBytes = s.spreadBytes()
	if e.NotTheLimit = len(s.notTheLimit()) >= notTheLimitLaunches && !e.Confirmed; e.NotTheLimit {
		// No value of the limit is worth naming: none was the cause.
		e.Recommended, e.Tried, e.Started = Point{}, 0, 0
	}
	if e.Fragmented {
		e.Ranges = startedRanges(e.Observations)
	}
	e.Notes = s.notes(e)
	if pr := s.predictedRanges(); len(pr) > 1 && !e.Fragmented {
		e.Fragmented, e.Ranges = true, pr
		e.Notes = append(e.Notes, "the corrected estimate, with the margin, starts on disjoint ranges of --max-total-tokens (the warm-up batch needs more memory at some smaller values; from the prefill/8 up): "+rangesText(pr))
	}
	return e
}

// predictedRanges are the runs of values the estimate, corrected as the
// recommendation was, says start (nil without a recommendation).
func (s *search) predictedRanges() []Range {
	sh, spread, ok := s.shift()
	if s.rec == 0 || !ok || s.pl.Ranges == nil {
		return nil
	}
	m := max(s.margin, 2*spread)
	if s.reduced {
		m = 2 * spread
	}
	sh.Overhead += m
	return s.pl.Ranges(sh)
}

func rangesText(rs []Range) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d–%d", r.Lo, r.Hi))
	}
	return strings.Join(out, ", ")
}

// spreadBytes is the spread the launches showed: the range of the
// budget-based shifts, or the token gap between a failure and a larger
// start in KV bytes, whichever is larger.
func (s *search) spreadBytes() int64 {
	_, spread, _ := s.shift()
	for _, f := range s.e.Observations {
		if f.OK() || f.Point.MaxTotalTokens > s.e.Lo || s.sawtooth(f) || s.pl.Predict == nil {
			continue
		}
		gap := int64(s.e.Lo - f.Point.MaxTotalTokens)
		spread = max(spread, gap*s.pl.Predict(f.Point).TokenBytes)
	}
	return spread
}

// startedRanges are the runs of launched values that all started, in
// increasing order (a value that also failed ends a run).
func startedRanges(obs []Observation) []Range {
	failed := map[int]bool{}
	var values []int
	for _, o := range obs {
		t := o.Point.MaxTotalTokens
		failed[t] = failed[t] || !o.OK()
		values = append(values, t)
	}
	slices.Sort(values)
	var out []Range
	open := false
	for _, t := range slices.Compact(values) {
		switch {
		case failed[t]:
			open = false
		case open:
			out[len(out)-1].Hi = t
		default:
			out, open = append(out, Range{Lo: t, Hi: t}), true
		}
	}
	return out
}

// notes are the search's conclusions, one line each.
func (s *search) notes(e Edge) []string {
	var out []string
	if e.Spread {
		out = append(out, fmt.Sprintf("launches differ: a value failed at or below one that started on another launch (spread about %s per GPU); the recommendation is moved down by %s per GPU to cover it",
			mib(e.SpreadBytes), mib(max(s.margin, 2*e.SpreadBytes))))
	}
	if e.Fragmented {
		out = append(out, "starts on disjoint ranges of --max-total-tokens (the warm-up batch needs more memory at some smaller values): "+rangesText(e.Ranges))
	}
	if s.reduced {
		out = append(out, fmt.Sprintf("no value starts with the %s margin at --max-batch-prefill-tokens %d; the recommendation keeps twice the spread seen (%s); a smaller prefill leaves more room", mib(s.margin), s.pl.Prefill, mib(2*e.SpreadBytes)))
	}
	if e.NotTheLimit {
		last := e.Observations[len(e.Observations)-1]
		out = append(out, fmt.Sprintf("launches at %s sized a KV pool that holds the length (%s tokens on the last), then ran out of GPU memory (%s): the value searched is not what fails; lower the memory fraction (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static) to leave room outside the pool",
			joinInts(s.notTheLimit()), thousands(last.Budget()), estimate.FailureCUDAOOM))
	}
	if e.Recommended.MaxTotalTokens > 0 && !e.Confirmed {
		out = append(out, fmt.Sprintf("not confirmed: %d of %d launches at %d started, the last %d in a row; %d wanted", e.Started, e.Tried, e.Recommended.MaxTotalTokens, s.streak(s.rec), s.k))
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// firstPoint is where the estimate alone would recommend: its edge with
// the margin more in use; at or above max_batch_prefill_tokens + 1 when
// the predicted edge is (below it the warm-up is split into several
// requests that together reserve more KV than a start needs, so a start
// there reports no headroom to correct from).
func (pl Plan) firstPoint(margin int64) int {
	t := pl.Predicted
	if pl.Cap > 0 && t >= pl.Cap && pl.shifted(Shift{Overhead: margin}) >= pl.Cap {
		return pl.Cap
	}
	first := t
	if m := pl.shifted(Shift{Overhead: margin}); m > 0 {
		first = m
	}
	if pl.Prefill > 0 && t > pl.Prefill+1 {
		first = max(first, pl.Prefill+1)
	}
	return max(first, 2)
}

// shifted is Plan.Shifted, or the predicted edge when there is none.
func (pl Plan) shifted(sh Shift) int {
	if pl.Shifted == nil {
		return pl.Predicted
	}
	return pl.Shifted(sh)
}

// measure is what one launch showed of the shift, in bytes per GPU.
type measure struct {
	// budget is the whole shift (overhead + reserve) from a reported KV
	// budget; peak the overhead from the warm-up's NVML peak.
	budget, peak       int64
	hasBudget, hasPeak bool
	// capacity is the card's memory the warm-up may use.
	capacity int64
}

// measure reads a launch at t: from the KV budget the engine reported
// (the log line or gauge of a start; the KV-cache blocks a failure logged
// before the router refused it) when it holds blocks beyond the warm-up's
// own, the whole shift (predicted − reported) tokens × KV bytes per token;
// from the peak until the warm-up ended (a launch that got through it),
// the overhead: that peak less the predicted one.
func (pl Plan) measure(o Observation, t int) measure {
	var m measure
	if pl.Predict == nil {
		return m
	}
	est := pl.Predict(pl.point(t))
	m.capacity = est.Capacity
	reported := o.Budget()
	if reported == 0 && o.Reported.KVBlocks > 0 {
		reported = o.Reported.KVBlocks * max(o.Reported.BlockSize, 1)
	}
	switch {
	case reported > est.WarmTokens && est.Budget > est.WarmTokens && est.TokenBytes > 0:
		m.budget, m.hasBudget = int64(est.Budget-reported)*est.TokenBytes, true
	case reported == 0 && o.Reported.KVBytes > 0 && est.KVBytes > 0:
		// vLLM refused the max_model_len after logging its pool in GiB
		// (two decimals: ±5 MiB).
		m.budget, m.hasBudget = est.KVBytes-o.Reported.KVBytes, true
	}
	if peak := o.WarmupPeak(); peak > 0 && reported > 0 && est.WarmBytes > 0 {
		m.peak, m.hasPeak = int64(peak)-est.WarmBytes, true
	}
	if m.hasBudget && m.hasPeak && abs(m.budget-m.peak) > est.Capacity/16 {
		// The reserve would be off by more than TGI_WIGGLE_ROOM's plausible
		// range (0.85–0.95 against the 0.90 assumed, ±5% of the card): the
		// sampler missed the warm-up's peak (a sample from before the
		// weights or the warm-up was in place). Keep the budget only.
		m.hasPeak = false
	}
	return m
}

// pairedFloor is the lowest overhead a peak without a budget may show
// and be believed: that of the launches whose peak the budget checked,
// less a sixteenth of the card (more than any launch-to-launch spread; a
// peak below it was sampled before the warm-up's memory was in place).
func (s *search) pairedFloor() int64 {
	low, card := int64(math.MaxInt64), int64(0)
	for _, m := range s.measured {
		if m.hasBudget && m.hasPeak {
			low = min(low, m.peak)
			card = max(card, m.capacity)
		}
	}
	return low - card/16
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// failureShift is a lower bound on the overhead of a launch at t that
// failed in its warm-up: the room the estimate leaves at the warm-up peak
// (the engine had less), plus what torch's OOM message says the failing
// allocation was short ("Tried to allocate X … of which Y is free"); or
// the launch's NVML peak beyond the predicted warm-up peak, if larger.
func (pl Plan) failureShift(o Observation, t int) (int64, bool) {
	if pl.Predict == nil || o.OK() {
		return 0, false
	}
	est := pl.Predict(pl.point(t))
	var d int64
	ok := false
	if o.Failure == estimate.FailureWarmupOOM && est.Capacity > 0 {
		d, ok = est.Capacity-est.WarmBytes+max(o.Reported.OOMRequestBytes-o.Reported.OOMFreeBytes, 0), true
	}
	if peak := int64(o.WarmupPeak()); peak > 0 && est.WarmBytes > 0 && peak > est.WarmBytes && (!ok || peak-est.WarmBytes > d) {
		d, ok = peak-est.WarmBytes, true
	}
	return d, ok
}
