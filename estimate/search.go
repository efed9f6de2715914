package estimate

// The boundary searches of every engine. Feasibility is not monotone over the
// whole range (see boundaryT and boundaryP), so each search starts from a
// value that is known to start and assumes feasibility holds on an interval
// from there.

// bisect returns the largest n in [lo, hi) with ok(n), given ok(lo) and !ok(hi).
func bisect(ok func(int) bool, lo, hi int) int {
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// largestFrom returns the largest n ≤ limit with ok(n): it starts at the
// first positive candidate that is ok, doubles until ok fails, then bisects.
// It returns 0 when no candidate is ok.
func largestFrom(ok func(int) bool, limit int, candidates ...int) int {
	lo := 0
	for _, c := range candidates {
		if c > 0 && c <= limit && ok(c) {
			lo = c
			break
		}
	}
	if lo == 0 {
		return 0
	}
	for lo < limit {
		next := min(2*lo, limit)
		if !ok(next) {
			return bisect(ok, lo, next)
		}
		lo = next
	}
	return lo
}
