package load

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestSummarize: three requests and one failure over 10 s at $2.49/h.
// TTFT 100, 200, 300 ms: empirical p50 200, p90 and p99 300. ITL (Total −
// TTFT)/(tokens − 1): 1000/100 = 10, 2000/100 = 20, 3000/100 = 30 ms.
// 303 tokens / 10 s = 30.3 tokens/s, 3 / 10 s = 0.3 requests/s; cost
// 2.49 / (30.3 · 3600) · 10⁶ = 22.8273… $ per million output tokens.
// Sent: prompts of 100, 300, 200 and 400 tokens (mean 250), asking for
// 101 × 3 and 50 (353 / 4 = 88.25): the failed request was sent too.
func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	reqs := []Request{
		{FirstToken: 100 * ms, Total: 1100 * ms, OutputTokens: 101, InputLen: 100, OutputLen: 101},
		{FirstToken: 300 * ms, Total: 3300 * ms, OutputTokens: 101, InputLen: 300, OutputLen: 101},
		{FirstToken: 200 * ms, Total: 2200 * ms, OutputTokens: 101, InputLen: 200, OutputLen: 101},
		{Total: 50 * ms, Failed: true, InputLen: 400, OutputLen: 50},
	}
	l := Summarize(8, reqs, 10*time.Second, 2.49)
	if l.Concurrency != 8 || l.Requests != 4 || l.Errors != 1 || l.MeanInputLen != 250 || l.MeanOutputLen != 88.25 {
		t.Errorf("counts %+v", l)
	}
	if l.TTFT != (Percentiles{P50: 200, P90: 300, P99: 300}) || l.ITL != (Percentiles{P50: 20, P90: 30}) {
		t.Errorf("TTFT %+v ITL %+v", l.TTFT, l.ITL)
	}
	if math.Abs(l.OutputTokensPerS-30.3) > 1e-9 || math.Abs(l.RequestsPerS-0.3) > 1e-12 {
		t.Errorf("throughput %v tokens/s %v requests/s", l.OutputTokensPerS, l.RequestsPerS)
	}
	if l.USDPerMillionOutputTokens == nil || math.Abs(*l.USDPerMillionOutputTokens-2.49e6/109080) > 1e-9 {
		t.Errorf("cost %v, want 22.8273", l.USDPerMillionOutputTokens)
	}
	if none := Summarize(1, nil, time.Second, 2.49); none.USDPerMillionOutputTokens != nil || none.TTFT != (Percentiles{}) {
		t.Errorf("no requests: %+v", none)
	}
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// series is 121 samples, one a second, of used(t).
func series(used func(t int) uint64) []Sample {
	s := make([]Sample, 121)
	for i := range s {
		s[i] = Sample{At: time.Duration(i) * time.Second, Used: used(i)}
	}
	return s
}

// TestTrendLeak: 10 MiB/s on an 80 GiB card. The window starts at t = 24 s
// (the first fifth settles) at 40 GiB + 240 MiB; the threshold is
// max(256 MiB, 80 GiB/200 = 409.6 MiB), first passed at t = 24 + ⌈40.96⌉ =
// 65 s; the rate is 600 MiB/min, and the 40 GiB − 1,200 MiB left at t = 120
// s fill in 39,760 MiB / 10 MiB/s = 3,976 s.
func TestTrendLeak(t *testing.T) {
	f, ok := Trend(series(func(t int) uint64 { return 40*gib + uint64(t)*10*mib }), 80*gib)
	if !ok || f.Kind != "memory_trend" || f.AtS != 65 {
		t.Fatalf("leak: %+v, %v; want memory_trend at 65 s", f, ok)
	}
	for _, want := range []string{"grew 600 MiB/min (R² 1.00) from 24 s", "fills the card in 3976 s more"} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("detail %q lacks %q", f.Detail, want)
		}
	}
}

// TestTrendNotALeak: allocator jitter of up to 48 MiB, a one-time 2 GiB
// step at 60 s that then stays flat, and too short a run are not trends.
func TestTrendNotALeak(t *testing.T) {
	cases := map[string][]Sample{
		"jitter": series(func(t int) uint64 { return 40*gib + uint64(t%7)*8*mib }),
		"step": series(func(t int) uint64 {
			if t >= 60 {
				return 42 * gib
			}
			return 40 * gib
		}),
		"short": series(func(t int) uint64 { return 40*gib + uint64(t)*10*mib })[:15],
	}
	for name, s := range cases {
		if f, ok := Trend(s, 80*gib); ok {
			t.Errorf("%s: reported %+v", name, f)
		}
	}
}
