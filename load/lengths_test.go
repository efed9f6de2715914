package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestParseLengths: each syntax, its bounds, mean and rounding step.
// 128:2048 spans 1,920 tokens: steps of 16 leave 120 ≤ 128 of them (8
// would leave 240). lognormal:512:0.6 is cut at 512·e^(∓1.8) = 84.63 and
// 3,097.42 (85 and 3,097); its mean 512·e^0.18 = 612.98 times (Φ(2.4) −
// Φ(−3.6)) / (Φ(3) − Φ(−3)) = 0.991643 / 0.997300 is 609.498; 3,012
// tokens in steps of 32 are 95 (16 would be 189).
func TestParseLengths(t *testing.T) {
	for _, tt := range []struct {
		in        string
		want      Lengths
		mean      float64
		step      int
		canonical string
	}{
		{"512", Lengths{Kind: LengthsFixed, Min: 512, Max: 512}, 512, 1, "512"},
		{" 128:2048", Lengths{Kind: LengthsUniform, Min: 128, Max: 2048}, 1088, 16, "128:2048"},
		{"7:7", Lengths{Kind: LengthsUniform, Min: 7, Max: 7}, 7, 1, "7:7"},
		{"1:300", Lengths{Kind: LengthsUniform, Min: 1, Max: 300}, 150.5, 4, "1:300"},
		{"LogNormal:512:0.6", Lengths{Kind: LengthsLognormal, Min: 85, Max: 3097, Median: 512, Sigma: 0.6}, 609.4984, 32, "lognormal:512:0.6"},
		{"lognormal:2:0.5", Lengths{Kind: LengthsLognormal, Min: 1, Max: 9, Median: 2, Sigma: 0.5}, 2.26, 1, "lognormal:2:0.5"},
	} {
		got, err := ParseLengths(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if math.Abs(got.Mean()-tt.mean) > 0.01 || got.Step() != tt.step || got.String() != tt.canonical {
			t.Errorf("%q: mean %v step %d %q; want %v, %d, %q", tt.in, got.Mean(), got.Step(), got.String(), tt.mean, tt.step, tt.canonical)
		}
	}
	for _, bad := range []string{"0", "-5", "x", "2048:128", "0:10", "1:2:3", "lognormal:512:0", "lognormal:0.5:1", "lognormal:512:2.5", "lognormal:512", "normal:512:1"} {
		if _, err := ParseLengths(bad); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

// TestLengthsSupport: the prompts built before a run are every length a
// draw can round to. 1:300 in steps of 4: 1 (1 rounds to 0, kept at the
// minimum), then 4, 8, … 300: 1 + 75 lengths. 128:2048 in steps of 16:
// 128 … 2048, 121 lengths.
func TestLengthsSupport(t *testing.T) {
	l := Lengths{Kind: LengthsUniform, Min: 1, Max: 300}
	s := l.support(4)
	if len(s) != 76 || s[0] != 1 || s[1] != 4 || s[2] != 8 || s[75] != 300 {
		t.Errorf("1:300 by 4: %d lengths %v", len(s), s)
	}
	if l.snap(1, 4) != 1 || l.snap(2, 4) != 4 || l.snap(5, 4) != 4 || l.snap(6, 4) != 8 || l.snap(299, 4) != 300 {
		t.Errorf("snap 1, 2, 5, 6, 299 by 4: %d %d %d %d %d", l.snap(1, 4), l.snap(2, 4), l.snap(5, 4), l.snap(6, 4), l.snap(299, 4))
	}
	w := Lengths{Kind: LengthsUniform, Min: 128, Max: 2048}
	if s := w.support(16); len(s) != 121 || s[0] != 128 || s[120] != 2048 || s[1] != 144 {
		t.Errorf("128:2048 by 16: %d lengths", len(s))
	}
	if s := Fixed(512).support(1); !slices.Equal(s, []int{512}) {
		t.Errorf("fixed: %v", s)
	}
}

// TestLengthsDraws: 200,000 draws stay within the bounds and average the
// distribution's mean within 0.5% (the standard error is σ_L/√n: for the
// lognormal about 380/447 = 0.85 tokens of 609.5, for 128:2048 554/447 =
// 1.2 of 1,088).
func TestLengthsDraws(t *testing.T) {
	for _, spec := range []string{"lognormal:512:0.6", "128:2048", "3:5"} {
		l, err := ParseLengths(spec)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 0))
		sum, n := 0, 200_000
		for range n {
			v := l.draw(rng)
			if v < l.Min || v > l.Max {
				t.Fatalf("%s drew %d, outside %d…%d", spec, v, l.Min, l.Max)
			}
			sum += v
		}
		if mean := float64(sum) / float64(n); math.Abs(mean/l.Mean()-1) > 0.005 {
			t.Errorf("%s: drawn mean %.2f, distribution's %.2f", spec, mean, l.Mean())
		}
	}
}
