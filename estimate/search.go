package estimate

// The boundary searches of every engine. Feasibility is not monotone over the
// whole range (see tgiRun.boundaryT and boundaryP), so each search starts
// from a value that is known to start and assumes feasibility holds on an
// interval from there.
//
// A search probes by starting the engine (on paper) at a limit. Each probe
// also says how far it is from failing (its slack: ≥ 0 when it starts, < 0
// when it does not, in units that grow about linearly with the limit, 0 when
// unknown), so the searches aim at where the slack interpolates to zero and
// need a handful of probes where halving needs twenty. They keep the same
// bracket as a bisection (the lower end starts, the upper end does not) and
// halve whenever aiming stops shrinking it, so they end on the same edge.

// probe is one trial start of a search.
type probe[S any] struct {
	// at is the limit tried; st what the start gave.
	at int
	st S
}

// searcher holds how to try a limit and read the outcome.
type searcher[S any] struct {
	try   func(int) S
	fits  func(S) bool
	slack func(S) float64
	// stepBelow, when set, returns the largest limit below n whose
	// allocation is one rounding step smaller than n's (or ≥ n when it
	// cannot tell). Allocator rounding makes the outcome a staircase near
	// the edge: every limit of a step allocates the same, so the edge is
	// usually the top of a step and the slack is flat on the failing side,
	// where aiming cannot see it.
	stepBelow func(n int) int
}

// edge returns the largest n in [lo.at, hi.at) that starts, with the probes
// at n and n + 1, given that lo starts and hi does not. It aims by regula
// falsi with the Illinois rule (an end kept twice in a row has its slack
// halved, so the aim moves off it), and halves the bracket when the slacks
// cannot aim (unknown, or of the wrong sign). With stepBelow, a probe that
// fails is followed by one at the top of the step below it, and when that
// starts, by one at the bottom of the failing step (when it fails, by one
// just below it): on a staircase the edge is found in two or three probes.
func (s searcher[S]) edge(lo, hi probe[S]) (probe[S], probe[S]) {
	a, b := s.slack(lo.st), s.slack(hi.st)
	kept := 0            // + the lower end was kept by the last probes, − the upper
	stepped := false     // the last probe was a step's top
	steppedOnce := false // one step's top per edge: aims do the rest
	// Aiming may crawl (an end whose slack is 0, or slacks of different
	// terms): five probes that do not halve the bracket are followed by a
	// halving, so an edge costs at most about six probes per halving.
	ref, since := hi.at-lo.at, 0
	for hi.at-lo.at > 1 {
		if w := hi.at - lo.at; w <= ref/2 {
			ref, since = w, 0
		}
		since++
		next := lo.at + (hi.at-lo.at)/2
		if a > 0 && b < 0 && since <= 5 {
			next = min(max(lo.at+int(float64(hi.at-lo.at)*a/(a-b)), lo.at+1), hi.at-1)
		}
		topOfStep := false
		if s.stepBelow != nil {
			switch {
			case stepped && kept < 0:
				next = lo.at + 1 // the step's top started: try the next step's bottom
			case stepped:
				next = hi.at - 1 // it failed: the edge may sit just below it
			case kept > 0 && !steppedOnce:
				if c := s.stepBelow(hi.at); c > lo.at && c < hi.at {
					next, topOfStep, steppedOnce = c, true, true
				}
			}
		}
		p := probe[S]{next, s.try(next)}
		if s.fits(p.st) {
			lo, a = p, s.slack(p.st)
			if kept = min(kept, 0) - 1; kept <= -2 {
				b /= 2
			}
		} else {
			hi, b = p, s.slack(p.st)
			if kept = max(kept, 0) + 1; kept >= 2 {
				a /= 2
			}
		}
		stepped = topOfStep
	}
	return lo, hi
}

// largestFrom returns the largest n ≤ limit that starts, and its probe: it
// starts at the first positive candidate that starts and finds the edge
// below the smallest candidate above it that failed, or, when none did,
// below the first doubling that fails. n is 0 when no candidate starts.
func (s searcher[S]) largestFrom(limit int, candidates ...int) (int, S) {
	var lo, hi probe[S]
	for _, c := range candidates {
		if c <= 0 || c > limit {
			continue
		}
		p := probe[S]{c, s.try(c)}
		if s.fits(p.st) {
			lo = p
			break
		}
		if hi.at == 0 || c < hi.at {
			hi = p
		}
	}
	if lo.at == 0 {
		return 0, lo.st
	}
	if hi.at > lo.at {
		lo, _ = s.edge(lo, hi)
		return lo.at, lo.st
	}
	for lo.at < limit {
		next := probe[S]{at: min(2*lo.at, limit)}
		if next.st = s.try(next.at); !s.fits(next.st) {
			lo, _ = s.edge(lo, next)
			return lo.at, lo.st
		}
		lo = next
	}
	return lo.at, lo.st
}
