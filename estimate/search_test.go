package estimate

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// toy is a start of a search test: it starts when n ≤ edge, with a slack
// a test chooses.
type toy struct {
	fits  bool
	slack float64
}

// toySearch counts the probes of a search over f.
func toySearch(f func(n int) toy, probes *int) searcher[toy] {
	return searcher[toy]{
		try:   func(n int) toy { *probes++; return f(n) },
		fits:  func(t toy) bool { return t.fits },
		slack: func(t toy) float64 { return t.slack },
	}
}

// TestEdgeExact: whatever the slacks say — honest, flat, zero, of the
// wrong sign or noise — edge returns the exact largest n that starts, and
// spends at most six probes per halving of the bracket.
func TestEdgeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	slacks := map[string]func(n, edge int) float64{
		"linear":      func(n, edge int) float64 { return float64(edge - n) },
		"flat":        func(n, edge int) float64 { return math.Copysign(1e6, float64(edge-n)+0.5) },
		"zero":        func(int, int) float64 { return 0 },
		"wrong sign":  func(n, edge int) float64 { return float64(n - edge) },
		"noise":       func(int, int) float64 { return rng.NormFloat64() * 1e9 },
		"fits at 0":   func(n, edge int) float64 { return min(float64(edge-n), 0) },
		"cubic":       func(n, edge int) float64 { d := float64(edge-n) + 0.5; return d * d * d },
		"big far off": func(n, edge int) float64 { return float64(edge-n) * (1 + float64(n%97)) },
	}
	for name, slack := range slacks {
		for range 200 {
			lo, hi := 1+rng.IntN(1000), 0
			hi = lo + 2 + rng.IntN(1<<20)
			edge := lo + rng.IntN(hi-lo)
			probes := 0
			s := toySearch(func(n int) toy { return toy{n <= edge, slack(n, edge)} }, &probes)
			got, past := s.edge(probe[toy]{lo, s.try(lo)}, probe[toy]{hi, s.try(hi)})
			if got.at != edge || past.at != edge+1 {
				t.Fatalf("%s: edge in [%d, %d) = %d, %d; want %d", name, lo, hi, got.at, past.at, edge)
			}
			if limit := 6*bits.Len(uint(hi-lo)) + 2; probes > limit {
				t.Errorf("%s: %d probes for a bracket of %d, want at most %d", name, probes, hi-lo, limit)
			}
		}
	}
}

// TestEdgeStaircase: allocator rounding makes a start's slack constant over
// each step of 256 and the edge the top of a step. Aiming cannot see where
// in a step the edge is; with stepBelow, the edge costs three probes after
// the first aimed one that fails (the top of the step below starts, the
// next one fails).
func TestEdgeStaircase(t *testing.T) {
	const step, edge = 256, 207_360 // 810 steps
	f := func(n int) toy {
		// 134 MB per step (64 tensors · 2 MiB); constant within a step.
		steps := (n + step - 1) / step
		return toy{n <= edge, float64(810-steps)*134e6 + 123e6}
	}
	below := func(n int) int { return (n+step-1)/step*step - step }
	var probes [2]int
	for i, stepped := range []bool{false, true} {
		s := toySearch(f, &probes[i])
		if stepped {
			s.stepBelow = below
		}
		got, _ := s.edge(probe[toy]{70_513, f(70_513)}, probe[toy]{4_194_304, f(4_194_304)})
		if got.at != edge {
			t.Fatalf("stepped %v: edge %d, want %d", stepped, got.at, edge)
		}
	}
	if probes[1] > 4 || probes[1] >= probes[0] {
		t.Errorf("probes: %d aiming alone, %d with stepBelow; want at most 4 and fewer", probes[0], probes[1])
	}
}
