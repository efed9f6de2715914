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
}

// edge returns the largest n in [lo.at, hi.at) that starts, with the probes
// at n and n + 1, given that lo starts and hi does not. It aims by regula
// falsi with the Illinois rule (an end kept twice in a row has its slack
// halved, so the aim moves off it), and halves the bracket when the slacks
// cannot aim (unknown, or of the wrong sign).
func (s searcher[S]) edge(lo, hi probe[S]) (probe[S], probe[S]) {
	a, b := s.slack(lo.st), s.slack(hi.st)
	kept := 0 // + the lower end was kept by the last probes, − the upper
	for hi.at-lo.at > 1 {
		next := lo.at + (hi.at-lo.at)/2
		if a >= 0 && b < 0 {
			next = min(max(lo.at+int(float64(hi.at-lo.at)*a/(a-b)), lo.at+1), hi.at-1)
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
