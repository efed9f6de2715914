package probe

import (
	"testing"
)

// TestTeeth: Llama-3.1-8B on an L4 at TGI's default prefill there, 8,049,
// with 3,700 MiB more in use than the estimate assumes. Below 8,050 the
// warm-up is ⌈8,049/(T − 1)⌉ requests of T − 1 KV tokens each: tooth 3
// (T − 1 in 2,683…4,024) holds 3·(T − 1), tooth 2 (4,025…8,048) 2·(T − 1).
// The estimate's own bisection stops at 3,414 (3·3,413 = 10,239 tokens);
// tooth 2 starts up to 5,121 (2·5,120 = 10,240 tokens), while 4,000 in
// between (tooth 3: 3·3,999 = 11,997) and 5,122 do not.
func TestTeeth(t *testing.T) {
	v := llama8BOnL4(nil, "")
	e := newEstimator(v)
	zero, err := e.run(v.Settings)
	if err != nil {
		t.Fatal(err)
	}
	e.base.MaxBatchPrefillTokens = zero.Startup.MaxBatchPrefillTokens
	s := e.base
	s.ExtraOverheadBytes = 3700 << 20
	r, err := e.run(s)
	if err != nil {
		t.Fatal(err)
	}
	fits := func(total int) bool {
		s := s
		s.MaxInputTokens, s.MaxTotalTokens = total-1, total
		r, err := e.run(s)
		return err == nil && r.Startup.Fits
	}
	b := r.Boundary.MaxTotalTokens
	got := e.shifted(Shift{Overhead: 3700 << 20})
	if s.MaxBatchPrefillTokens != 8049 || b != 3414 || got != 5121 || !fits(5121) || fits(5122) || fits(4000) || !fits(3414) {
		t.Errorf("prefill %d, boundary %d, with the teeth %d; fits 5,121 %v, 5,122 %v, 4,000 %v, 3,414 %v",
			s.MaxBatchPrefillTokens, b, got, fits(5121), fits(5122), fits(4000), fits(3414))
	}
	// The ranges: tooth 2 from ⌈8,049/2⌉ + 1 = 4,026 to 5,121, tooth 3 from
	// ⌈8,049/3⌉ + 1 = 2,684 to 3,414, and lower teeth below.
	rs := e.ranges(Shift{Overhead: 3700 << 20})
	if n := len(rs); n < 3 || rs[n-1] != (Range{4026, 5121}) || rs[n-2] != (Range{2684, 3414}) {
		t.Errorf("ranges %v", rs)
	}
}
