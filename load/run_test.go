package load

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vramcalc/vramcalc/nvml"
)

// memRun runs cfg against f in memory (inside a synctest bubble), with
// f's /sim/gpus as the sampler.
func memRun(t *testing.T, f *fakeEngine, cfg Config) (Report, error) {
	t.Helper()
	client := &http.Client{Transport: memTransport{f}}
	cfg.URL, cfg.Engine, cfg.HTTP = "http://engine", f.engine, client
	cfg.Sampler = nvml.SimSampler{BaseURL: "http://engine", HTTP: client}
	return Run(context.Background(), cfg)
}

func flat(b uint64) func(int) uint64 { return func(int) uint64 { return b } }

// TestRunLatencies (vLLM): request i has a TTFT of 10·(i mod 10 + 1) ms
// and 20 ms between tokens, 8 tokens in 7 chunks (the last two together:
// only usage gives 8). Level 1, 10 requests: TTFT 10…100 ms, empirical
// p50 50, p90 90, p99 100; ITL (7·20)/7 = 20 ms; the level lasts
// Σ TTFT + 10·140 = 550 + 1400 = 1950 ms: 80 tokens / 1.95 s = 41.0256
// tokens/s, 10 / 1.95 = 5.128 requests/s; at $3.60/h, 0.001 $/s / 41.0256
// = 24.375 $ per million tokens. Level 2 sends requests 10…19: the same
// TTFTs, two at a time. Every prompt is 512 tokens by the server's count
// (511 words + BOS).
func TestRunLatencies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineVLLM, ttft: func(i int) time.Duration { return time.Duration(10*(i%10+1)) * time.Millisecond },
			itl: 20 * time.Millisecond, used: flat(20 << 30), total: 24 << 30}
		path := filepath.Join(t.TempDir(), "timeline.jsonl")
		rep, err := memRun(t, f, Config{Concurrency: []int{1, 2}, InputLen: 512, OutputLen: 8, Requests: 10, USDPerHour: 3.6, Timeline: path,
			Predicted: &Predicted{ServingBytes: 21 << 30, KVPoolTokens: 4096, MaxConcurrency: 7}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Levels) != 2 {
			t.Fatalf("%d levels, want 2", len(rep.Levels))
		}
		l := rep.Levels[0]
		if l.Requests != 10 || l.Errors != 0 || l.TTFT != (Percentiles{P50: 50, P90: 90, P99: 100}) || l.ITL != (Percentiles{P50: 20, P90: 20}) {
			t.Errorf("level 1: %+v", l)
		}
		if math.Abs(l.DurationS-1.95) > 1e-9 || math.Abs(l.OutputTokensPerS-80/1.95) > 1e-9 || math.Abs(l.RequestsPerS-10/1.95) > 1e-9 {
			t.Errorf("level 1 lasted %v s: %v tokens/s, %v requests/s", l.DurationS, l.OutputTokensPerS, l.RequestsPerS)
		}
		if l.USDPerMillionOutputTokens == nil || math.Abs(*l.USDPerMillionOutputTokens-24.375) > 1e-9 {
			t.Errorf("cost %v, want 24.375", l.USDPerMillionOutputTokens)
		}
		if rep.Price != (Price{USDPerHour: 3.6, Source: PriceFlag}) || l.MeanInputLen != 512 || l.MeanOutputLen != 8 || rep.InputLen != "512" || rep.InputStep != 1 {
			t.Errorf("price %+v, mean lengths %v → %v, input %q in steps of %d", rep.Price, l.MeanInputLen, l.MeanOutputLen, rep.InputLen, rep.InputStep)
		}
		l2 := rep.Levels[1]
		if l2.Requests != 10 || l2.TTFT != (Percentiles{P50: 50, P90: 90, P99: 100}) || *l2.MaxRunning != 2 || *rep.Levels[0].MaxRunning != 1 {
			t.Errorf("level 2: %+v (max running %v)", l2, *l2.MaxRunning)
		}
		for i, n := range f.inputs {
			if n != 512 {
				t.Fatalf("request %d sent %d prompt tokens, want 512", i, n)
			}
		}
		// Peak KV usage is running / 8 = 0.25 at level 2: 1,024 of the
		// predicted 4,096 tokens; peak memory 20 of the predicted 21 GiB.
		c := rep.Compared
		if *c.PeakKVTokens != 1024 || *c.MaxRunning != 2 || *c.PeakUsedBytes != 20<<30 || math.Abs(*c.UsedOverPredicted-20.0/21) > 1e-12 {
			t.Errorf("compared %+v", c)
		}
		if len(rep.Failures) != 0 {
			t.Errorf("failures %+v", rep.Failures)
		}
		checkTimeline(t, path, rep)
	})
}

// checkTimeline reads the file back: the header, then every point the
// report counted, level 1's before level 2's.
func checkTimeline(t *testing.T, path string, rep Report) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h, pts, err := ReadTimeline(fh)
	if err != nil {
		t.Fatal(err)
	}
	if h.Engine != EngineVLLM || len(h.GPUs) != 1 || h.GPUs[0].Total != 24<<30 || h.Predicted == nil || h.Predicted.KVPoolTokens != 4096 {
		t.Errorf("header %+v", h)
	}
	if len(pts) != rep.Samples || pts[0].T != 0 || pts[0].Level != 1 || pts[len(pts)-1].Level != 2 || pts[0].UsedBytes[0] != 20<<30 {
		t.Errorf("%d points (report: %d), first %+v, last %+v", len(pts), rep.Samples, pts[0], pts[len(pts)-1])
	}
}

// TestRunLeak (SGLang): 4 clients for 30 s, each request 3 ms + 9 · 100
// ms = 903 ms (finishing off the 100 ms sampling ticks), and 16 MiB more
// used memory per request served from 20 GiB on a 24 GiB card. Rounds of
// 4 end at k · 0.903 s; the last starts at 33 · 0.903 = 29.799 s and ends
// at 30.702 s, so 308 samples on the ticks (0 … 30.7 s) and one at the end. Trend's window starts at
// sample ⌊309 · 0.2⌋ = 61, t = 6.1 s, after 6 rounds (24 requests, 384
// MiB); it must grow max(256 MiB, 24 GiB/200) = 256 MiB more, reached
// after round 10 (640 MiB) at 9.03 s, first sampled at 9.1 s.
func TestRunLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineSGLang, ttft: func(int) time.Duration { return 3 * time.Millisecond }, itl: 100 * time.Millisecond,
			used: func(n int) uint64 { return 20<<30 + uint64(n)*16<<20 }, total: 24 << 30}
		rep, err := memRun(t, f, Config{Concurrency: []int{4}, InputLen: 512, OutputLen: 10, Duration: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Samples != 309 || rep.Levels[0].Requests != 34*4 {
			t.Errorf("%d samples, %d requests; want 309 and 136", rep.Samples, rep.Levels[0].Requests)
		}
		if len(rep.Failures) != 1 || rep.Failures[0].Kind != "memory_trend" || math.Abs(rep.Failures[0].AtS-9.1) > 1e-9 ||
			!strings.HasPrefix(rep.Failures[0].Detail, "GPU 0: used memory grew") {
			t.Fatalf("failures %+v; want one memory_trend at 9.1 s", rep.Failures)
		}
		// 136 requests · 16 MiB = 2,176 MiB over 20 GiB at the end.
		if got := rep.Levels[0].PeakUsedBytes; len(got) != 1 || got[0] != 20<<30+136*16<<20 {
			t.Errorf("peak %v", got)
		}
	})
}

// TestRunServerDies (TGI): requests of 150 ms + 7 · 50 ms = 500 ms, one
// at a time; the sixth (starting at 2.5 s) gets its first token at 2.65
// s, then the server is gone: the stream is cut and /health refused. The
// run ends there with a runtime_oom at 2.65 s naming the last memory
// sampled (2.6 s: 23 of 24 GiB); level 4 never runs, and the level's one
// failed request is the OOM's, not an "errors" failure.
func TestRunServerDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineTGI, ttft: func(int) time.Duration { return 150 * time.Millisecond }, itl: 50 * time.Millisecond,
			used: flat(23 << 30), total: 24 << 30, dieAfter: 5}
		rep, err := memRun(t, f, Config{Concurrency: []int{1, 4}, InputLen: 100, OutputLen: 8, Duration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Levels) != 1 || rep.Levels[0].Requests != 6 || rep.Levels[0].Errors != 1 {
			t.Fatalf("levels %+v", rep.Levels)
		}
		if len(rep.Failures) != 1 {
			t.Fatalf("failures %+v", rep.Failures)
		}
		f0 := rep.Failures[0]
		for _, want := range []string{"stopped serving at 2.6 s after serving 5 requests", "connection refused", "last used memory at 2.6 s: GPU 0 23.00 of 24.00 GiB"} {
			if !strings.Contains(f0.Detail, want) {
				t.Errorf("detail %q lacks %q", f0.Detail, want)
			}
		}
		if f0.Kind != "runtime_oom" || math.Abs(f0.AtS-2.65) > 1e-9 {
			t.Errorf("failure %+v; want runtime_oom at 2.65 s", f0)
		}
	})
}

// TestRunServerSick (vLLM): once 5 requests were served (2.5 s) the
// engine still answers, but generations get 500 and /health 503, as vLLM's
// API server does between its engine core's death and its exit. The first
// 500 ends the run as a runtime_oom at 2.5 s; the dead server's instant
// refusals are not counted as the level's errors (one failed request).
func TestRunServerSick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineVLLM, ttft: func(int) time.Duration { return 150 * time.Millisecond }, itl: 50 * time.Millisecond,
			used: flat(23 << 30), total: 24 << 30, sickAfter: 5}
		rep, err := memRun(t, f, Config{Concurrency: []int{1, 4}, InputLen: 100, OutputLen: 8, Duration: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Levels) != 1 || rep.Levels[0].Requests != 6 || rep.Levels[0].Errors != 1 || len(rep.Failures) != 1 {
			t.Fatalf("levels %+v, failures %+v", rep.Levels, rep.Failures)
		}
		f0 := rep.Failures[0]
		if f0.Kind != "runtime_oom" || math.Abs(f0.AtS-2.5) > 1e-9 || !strings.Contains(f0.Detail, "HTTP 500") || !strings.Contains(f0.Detail, "GET /health: HTTP 503") {
			t.Errorf("failure %+v; want runtime_oom at 2.5 s after HTTP 500, /health 503", f0)
		}
	})
}

// TestRunInterrupted: a context cancelled at 1 s ends the run with the
// requests measured by then (two of 400 ms at concurrency 1, the third cut
// and not counted) and an error matching context.Canceled.
func TestRunInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{engine: EngineVLLM, ttft: func(int) time.Duration { return 50 * time.Millisecond }, itl: 50 * time.Millisecond, used: flat(1 << 30), total: 24 << 30}
		client := &http.Client{Transport: memTransport{f}}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		rep, err := Run(ctx, Config{URL: "http://engine", Engine: EngineVLLM, HTTP: client, Concurrency: []int{1, 8}, InputLen: 16, OutputLen: 8, Duration: time.Minute})
		if !errors.Is(err, context.Canceled) || !rep.Interrupted {
			t.Fatalf("err %v, interrupted %v", err, rep.Interrupted)
		}
		if len(rep.Levels) != 1 || rep.Levels[0].Requests != 2 || rep.Levels[0].Errors != 0 {
			t.Errorf("levels %+v", rep.Levels)
		}
	})
}

// TestRunHTTP drives each engine's fake over a real loopback server: 5
// requests at concurrency 2, 512-token prompts by each tokenizer's count
// (vLLM 511 words + BOS, SGLang 341 + 170 + 1, TGI 512 words), 8 tokens
// each: 40 output tokens in the level's span.
func TestRunHTTP(t *testing.T) {
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			f := &fakeEngine{engine: engine, ttft: func(int) time.Duration { return 0 }, used: flat(1 << 30), total: 2 << 30}
			srv := httptest.NewServer(f)
			defer srv.Close()
			rep, err := Run(context.Background(), Config{URL: srv.URL + "/", Engine: engine, Concurrency: []int{2}, InputLen: 512, OutputLen: 8, Requests: 5,
				Sampler: nvml.SimSampler{BaseURL: srv.URL}})
			if err != nil {
				t.Fatal(err)
			}
			l := rep.Levels[0]
			if l.Requests != 5 || l.Errors != 0 || math.Abs(l.OutputTokensPerS*l.DurationS-40) > 1e-6 || rep.InputTokens != 512 {
				t.Errorf("level %+v", l)
			}
			if len(l.PeakUsedBytes) != 1 || l.PeakUsedBytes[0] != 1<<30 || len(rep.GPUs) != 1 || rep.GPUs[0].Name != "NVIDIA L4" {
				t.Errorf("memory %v on %+v", l.PeakUsedBytes, rep.GPUs)
			}
			for _, n := range f.inputs {
				if n != 512 {
					t.Errorf("a prompt of %d tokens, want 512", n)
				}
			}
		})
	}
}

// TestRunLengthDistributions (vLLM, one token a word plus BOS): prompts
// uniform over 100…400 tokens, rounded to steps of 4 (300 tokens in 75
// steps), outputs uniform over 4…12, seed 7, 6 requests at concurrency 1
// then 2. The 76 prompts (100, 104, … 400) are built before the run in 77
// tokenizer calls: 100 words count 101, 99 count 100, and each next length
// n is then n − 1 words at the first try. Seed 7 draws prompts of 180,
// 136, 360, 400, 284, 384 tokens (mean 1,744 / 6 = 290.67) asking for 6,
// 5, 11, 8, 8, 5 tokens (43 / 6 = 7.17). Every level draws the same
// sequence, so level 2 sends level 1's lengths; the same seed repeats
// them, seed 8 does not. The report's request shape is the means of the
// distributions, (100 + 400) / 2 = 250 and (4 + 12) / 2 = 8.
func TestRunLengthDistributions(t *testing.T) {
	in, _ := ParseLengths("100:400")
	out, _ := ParseLengths("4:12")
	run := func(seed uint64) (*fakeEngine, Report) {
		var f *fakeEngine
		var rep Report
		synctest.Test(t, func(t *testing.T) {
			f = &fakeEngine{engine: EngineVLLM, ttft: func(int) time.Duration { return 10 * time.Millisecond }, itl: 10 * time.Millisecond, used: flat(1 << 30), total: 24 << 30}
			var err error
			if rep, err = memRun(t, f, Config{Concurrency: []int{1, 2}, InputDist: in, OutputDist: out, Seed: seed, Requests: 6}); err != nil {
				t.Fatal(err)
			}
		})
		return f, rep
	}
	f, rep := run(7)
	wantIn, wantOut := []int{180, 136, 360, 400, 284, 384}, []int{6, 5, 11, 8, 8, 5}
	if !slices.Equal(f.inputs[:6], wantIn) || !slices.Equal(f.outputs[:6], wantOut) {
		t.Errorf("level 1 sent prompts %v asking %v; want %v and %v", f.inputs[:6], f.outputs[:6], wantIn, wantOut)
	}
	if got := slices.Sorted(slices.Values(f.inputs[6:])); !slices.Equal(got, []int{136, 180, 284, 360, 384, 400}) {
		t.Errorf("level 2 sent prompts %v, want level 1's", f.inputs[6:])
	}
	if f.tokenized != 77 {
		t.Errorf("%d tokenizer calls, want 77", f.tokenized)
	}
	for i, l := range rep.Levels {
		if l.Requests != 6 || l.Errors != 0 || math.Abs(l.MeanInputLen-1744.0/6) > 1e-9 || math.Abs(l.MeanOutputLen-43.0/6) > 1e-9 ||
			math.Abs(l.OutputTokensPerS*l.DurationS-43) > 1e-6 {
			t.Errorf("level %d: %+v", i+1, l)
		}
	}
	if rep.Price != (Price{Source: PriceNone}) {
		t.Errorf("price %+v without one", rep.Price)
	}
	if rep.InputTokens != 250 || rep.OutputTokens != 8 || rep.InputLen != "100:400" || rep.OutputLen != "4:12" || rep.InputStep != 4 || rep.Seed != 7 {
		t.Errorf("report shape %d → %d, %q → %q, step %d, seed %d", rep.InputTokens, rep.OutputTokens, rep.InputLen, rep.OutputLen, rep.InputStep, rep.Seed)
	}
	// The same seed repeats the run: level 1 (one client) in order; level 2
	// (two clients, whose arrival order is the scheduler's) as a set.
	sorted := func(xs []int) []int { return slices.Sorted(slices.Values(xs)) }
	if again, _ := run(7); !slices.Equal(again.inputs[:6], f.inputs[:6]) || !slices.Equal(again.outputs[:6], f.outputs[:6]) ||
		!slices.Equal(sorted(again.inputs[6:]), sorted(f.inputs[6:])) || !slices.Equal(sorted(again.outputs[6:]), sorted(f.outputs[6:])) {
		t.Errorf("seed 7 again sent %v / %v", again.inputs, again.outputs)
	}
	if other, _ := run(8); slices.Equal(other.inputs[:6], wantIn) {
		t.Errorf("seed 8 sent seed 7's prompts %v", other.inputs[:6])
	}
}
