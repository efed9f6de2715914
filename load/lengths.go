package load

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The kinds of Lengths.
const (
	LengthsFixed     = "fixed"
	LengthsUniform   = "uniform"
	LengthsLognormal = "lognormal"
)

// lognormalCut is where a lognormal's draws are cut, in sigmas from the
// median each way: ±3σ holds 99.73% of the distribution, and the cut keeps
// a rare draw from asking for ten times the median.
const lognormalCut = 3.0

// maxPrompts bounds the distinct prompt lengths a distribution of input
// lengths is rounded to (Step), so that the prompts are built before the
// run with a bounded number of tokenizer calls.
const maxPrompts = 128

// Lengths is how many tokens each request's prompt or output has: one
// number, or a distribution each request draws from (ParseLengths).
type Lengths struct {
	// Kind is LengthsFixed, LengthsUniform or LengthsLognormal.
	Kind string
	// Min and Max bound the draws, both included (fixed: Min = Max).
	Min, Max int
	// Median and Sigma are a lognormal's: ln L ~ N(ln Median, Sigma²),
	// cut at ±3 Sigma.
	Median, Sigma float64
}

// Fixed is n tokens for every request.
func Fixed(n int) Lengths { return Lengths{Kind: LengthsFixed, Min: n, Max: n} }

// ParseLengths reads a length flag: "N" (every request N tokens),
// "MIN:MAX" (uniform over the integers MIN…MAX, both included) or
// "lognormal:MEDIAN:SIGMA" (round(MEDIAN·e^(SIGMA·Z)) with Z standard
// normal, redrawn outside ±3, so between MEDIAN·e^(−3·SIGMA) and
// MEDIAN·e^(3·SIGMA), at least 1).
func ParseLengths(s string) (Lengths, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	switch {
	case len(parts) == 1:
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 {
			return Lengths{}, fmt.Errorf("load: lengths %q: want a number of tokens, at least 1", s)
		}
		return Fixed(n), nil
	case len(parts) == 2 && !strings.EqualFold(parts[0], LengthsLognormal):
		lo, err1 := strconv.Atoi(parts[0])
		hi, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || lo < 1 || hi < lo {
			return Lengths{}, fmt.Errorf("load: lengths %q: want MIN:MAX with 1 ≤ MIN ≤ MAX", s)
		}
		return Lengths{Kind: LengthsUniform, Min: lo, Max: hi}, nil
	case len(parts) == 3 && strings.EqualFold(parts[0], LengthsLognormal):
		med, err1 := strconv.ParseFloat(parts[1], 64)
		sigma, err2 := strconv.ParseFloat(parts[2], 64)
		if err1 != nil || err2 != nil || !(med >= 1 && med <= 1e7) || !(sigma > 0 && sigma <= 2) {
			return Lengths{}, fmt.Errorf("load: lengths %q: want lognormal:MEDIAN:SIGMA with MEDIAN from 1 to 10,000,000 tokens and 0 < SIGMA ≤ 2", s)
		}
		return Lengths{Kind: LengthsLognormal, Median: med, Sigma: sigma,
			Min: max(1, int(math.Round(med*math.Exp(-lognormalCut*sigma)))), Max: int(math.Round(med * math.Exp(lognormalCut*sigma)))}, nil
	}
	return Lengths{}, fmt.Errorf("load: lengths %q: want N, MIN:MAX or lognormal:MEDIAN:SIGMA", s)
}

// String is the flag that ParseLengths reads back.
func (l Lengths) String() string {
	switch l.Kind {
	case LengthsUniform:
		return fmt.Sprintf("%d:%d", l.Min, l.Max)
	case LengthsLognormal:
		return fmt.Sprintf("lognormal:%g:%g", l.Median, l.Sigma)
	}
	return strconv.Itoa(l.Min)
}

// Mean is the distribution's mean before rounding: N; (MIN + MAX) / 2;
// for the cut lognormal MEDIAN·e^(σ²/2)·(Φ(3 − σ) − Φ(−3 − σ)) / (Φ(3) −
// Φ(−3)), Φ the standard normal distribution function.
func (l Lengths) Mean() float64 {
	switch l.Kind {
	case LengthsUniform:
		return float64(l.Min+l.Max) / 2
	case LengthsLognormal:
		phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
		s, c := l.Sigma, lognormalCut
		return l.Median * math.Exp(s*s/2) * (phi(c-s) - phi(-c-s)) / (phi(c) - phi(-c))
	}
	return float64(l.Min)
}

// draw is one request's length.
func (l Lengths) draw(rng *rand.Rand) int {
	switch l.Kind {
	case LengthsUniform:
		return l.Min + rng.IntN(l.Max-l.Min+1)
	case LengthsLognormal:
		for {
			if z := rng.NormFloat64(); math.Abs(z) <= lognormalCut {
				return min(l.Max, max(l.Min, int(math.Round(l.Median*math.Exp(l.Sigma*z)))))
			}
		}
	}
	return l.Min
}

// Step is the rounding of drawn prompt lengths: the smallest power of two
// that leaves at most maxPrompts steps between Min and Max (1 for a fixed
// length or a narrow range: every length exact). 128:2048 rounds to
// multiples of 16.
func (l Lengths) Step() int {
	q := 1
	for (l.Max-l.Min+q-1)/q > maxPrompts {
		q *= 2
	}
	return q
}

// snap rounds n to the nearest multiple of q (halves up), kept within
// Min…Max.
func (l Lengths) snap(n, q int) int {
	return min(l.Max, max(l.Min, (n+q/2)/q*q))
}

// support is every length snap gives, in increasing order: the prompts to
// build before the run.
func (l Lengths) support(q int) []int {
	var out []int
	for k := (l.Min + q/2) / q; k <= (l.Max+q/2)/q; k++ {
		if v := l.snap(k*q, q); len(out) == 0 || v > out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}
