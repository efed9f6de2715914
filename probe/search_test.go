package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

func gpu(name string, total int64, cc int) estimate.GPU {
	return estimate.GPU{Name: name, TotalBytes: estimate.Bytes(total), ComputeCapability: cc}
}

var simL4 = gpu("NVIDIA L4", 23_570_219_008, 89)

// simModels are the model shapes the validation tests estimate for.
func simModels() map[string]estimate.Model {
	ms := map[string]estimate.Model{
		"llama3-8b":  {Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16},
		"llama3-70b": {Type: "llama", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, Intermediate: 28672, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16},
	}
	for k, m := range ms {
		m.Tensors = estimate.SynthesizeTensors(m)
		ms[k] = m
	}
	return ms
}

// toy is a linear engine for the search's unit tests, 1 MB of KV per
// token: the estimate's budget is 10,000 tokens whatever the point, its
// edge drops one token per MB of shift, and the warm-up holds T − 1
// tokens over 5 GB. The engine (the truth) has overhead more in use
// through the warm-up, reserve more kept from the pool, and jitter[i] more
// on launch i: its budget is 10,000 − (overhead + reserve + jitter)/1 MB,
// a start needs T ≤ budget, and a failure logs T − 1 KV blocks (the
// warm-up's own), as TGI v3.3 does above the budget.
type toy struct {
	overhead, reserve int64
	jitter            []int64
	launches          int
}

const toyMB = 1_000_000

func toyPlan() Plan {
	return Plan{Predicted: 10000, Cap: 20000, Prefill: 1000, Tolerance: 0.01, Margin: 100 * toyMB,
		Predict: func(p Point) Estimate {
			return Estimate{Fits: p.MaxTotalTokens <= 10000, Budget: 10000, WarmTokens: p.MaxTotalTokens - 1,
				WarmBytes: 5_000*toyMB + int64(p.MaxTotalTokens-1)*toyMB, Capacity: 20_000 * toyMB, TokenBytes: toyMB}
		},
		Shifted: func(sh Shift) int { return 10000 - int((sh.Overhead+sh.Reserve)/toyMB) },
	}
}

func (e *toy) launcher() Launcher {
	return func(_ context.Context, p Point) (Observation, error) {
		var j int64
		if e.launches < len(e.jitter) {
			j = e.jitter[e.launches]
		}
		e.launches++
		t := p.MaxTotalTokens
		budget := 10000 - int((e.overhead+e.reserve+j)/toyMB)
		peak := uint64(5_000*toyMB + int64(t-1)*toyMB + e.overhead + j)
		o := Observation{Point: p, Outcome: "ok", WarmupPeakBytes: map[int]uint64{0: peak}, PeakBytes: map[int]uint64{0: peak}}
		if t > budget {
			o.Outcome, o.Failure = "failed", estimate.FailureNotEnoughMemory
			o.Reported = Reported{KVBlocks: t - 1, BlockSize: 1}
			return o, nil
		}
		o.Reported = Reported{KVBlocks: budget, BlockSize: 1, MaxBatchTotalTokensLog: budget}
		return o, nil
	}
}

func totals(e Edge) []int {
	var out []int
	for _, o := range e.Observations {
		out = append(out, o.Point.MaxTotalTokens)
	}
	return out
}

// TestSearchConfirms: overhead 200 MB, reserve 300 MB, no jitter; margin
// 100 MB. Launch 1 goes where the estimate alone would recommend,
// 10,000 − 100 = 9,900, and fails (the budget is 10,000 − 500 = 9,500) with
// only the warm-up's blocks: its peak says overhead 200 MB, the reserve is
// unknown. Launch 2 goes deep, 10,000 − (200 + 100 + 5% of 20,000 MB) =
// 8,700, starts and reports 9,500: shift 500 MB of which 200 overhead, so
// reserve 300. The recommendation is 10,000 − (200 + 100 + 300) = 9,400,
// which starts on launches 3, 4 and 5.
func TestSearchConfirms(t *testing.T) {
	eng := &toy{overhead: 200 * toyMB, reserve: 300 * toyMB}
	e, err := Search(context.Background(), toyPlan(), eng.launcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{9900, 8700, 9400, 9400, 9400}; !slices.Equal(totals(e), want) {
		t.Fatalf("launched %v, want %v", totals(e), want)
	}
	want := Point{MaxInputTokens: 9399, MaxTotalTokens: 9400, MaxBatchPrefillTokens: 1000}
	if e.Recommended != want || !e.Confirmed || e.Tried != 3 || e.Started != 3 || e.Launches != 5 || e.Lo != 9400 || e.Hi != 9900 ||
		e.Spread || e.Fragmented || e.SpreadBytes != 0 || len(e.Notes) != 0 {
		t.Errorf("edge %+v", e)
	}
}

// TestSearchSpread: as above, but launch 4 has 250 MB more in use and
// fails at 9,400, which started on launch 3: the spread is real. The
// overheads seen are 200, 200, 200 and 450 MB (spread 250), so the margin
// becomes 2 × 250 = 500 MB over the worst: 10,000 − (450 + 500 + 300) =
// 8,750, and 8,700, which already started within 1% below it, is taken:
// launches 5 and 6 confirm it.
func TestSearchSpread(t *testing.T) {
	eng := &toy{overhead: 200 * toyMB, reserve: 300 * toyMB, jitter: []int64{0, 0, 0, 250 * toyMB}}
	e, err := Search(context.Background(), toyPlan(), eng.launcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{9900, 8700, 9400, 9400, 8700, 8700}; !slices.Equal(totals(e), want) {
		t.Fatalf("launched %v, want %v", totals(e), want)
	}
	if e.Recommended.MaxTotalTokens != 8700 || !e.Confirmed || e.Tried != 3 || e.Started != 3 || !e.Spread || e.SpreadBytes != 250*toyMB ||
		e.Lo != 9400 || e.Hi != 9400 || len(e.Notes) != 1 || !strings.Contains(e.Notes[0], "spread about 238 MiB per GPU") {
		t.Errorf("edge %+v", e)
	}
}

// TestSearchCancelled: a search whose context ends is never done.
func TestSearchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	eng := &toy{overhead: 200 * toyMB, reserve: 300 * toyMB}
	inner := eng.launcher()
	launch := func(ctx context.Context, p Point) (Observation, error) {
		o, err := inner(ctx, p)
		cancel()
		return o, err
	}
	e, err := Search(ctx, toyPlan(), launch, nil)
	if !errors.Is(err, context.Canceled) || e.Confirmed || e.Launches != 1 {
		t.Errorf("err %v, edge %+v", err, e)
	}
}

// TestSearchResume: observations of the same point read back from a
// results file are taken in order before anything is launched again.
func TestSearchResume(t *testing.T) {
	eng := &toy{overhead: 200 * toyMB, reserve: 300 * toyMB}
	first, err := Search(context.Background(), toyPlan(), eng.launcher(), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := map[string][]Observation{}
	for _, o := range first.Observations[:4] {
		done[o.Point.Key()] = append(done[o.Point.Key()], o)
	}
	eng.launches = 0
	e, err := Search(context.Background(), toyPlan(), eng.launcher(), done)
	if err != nil {
		t.Fatal(err)
	}
	if e.Launches != 1 || eng.launches != 1 || !slices.Equal(totals(e), totals(first)) || !e.Confirmed {
		t.Errorf("resumed: %d launches (%d by the engine), %v", e.Launches, eng.launches, totals(e))
	}
}

// TestSearchFragmented: a warm-up OOM at 900 below a start at 1,000 whose
// warm-up the estimate sizes smaller is fragmentation, not spread; the
// ranges are the runs of values that started.
func TestSearchFragmented(t *testing.T) {
	pl := toyPlan()
	pl.Predict = func(p Point) Estimate {
		warm := int64(p.MaxTotalTokens) * toyMB
		if p.MaxTotalTokens < 1000 {
			warm *= 2 // two warm-up requests below the prefill
		}
		return Estimate{Budget: 10000, WarmTokens: p.MaxTotalTokens - 1, WarmBytes: warm, Capacity: 20_000 * toyMB, TokenBytes: toyMB}
	}
	s := newSearch(pl, nil, nil)
	for _, c := range []struct {
		t  int
		ok bool
	}{{500, true}, {600, true}, {900, false}, {1000, true}, {1100, true}, {1200, false}} {
		o := Observation{Point: pl.point(c.t), Outcome: "ok"}
		if !c.ok {
			o.Outcome, o.Failure = "failed", estimate.FailureWarmupOOM
		}
		s.e.Observations = append(s.e.Observations, o) // as try does
		s.record(o, c.t)
	}
	e := s.finish()
	if !e.Fragmented || e.Spread || !slices.Equal(e.Ranges, []Range{{500, 600}, {1000, 1100}}) || len(e.Notes) == 0 || !strings.Contains(e.Notes[0], "500–600, 1000–1100") {
		t.Errorf("edge %+v", e)
	}
}
