package probe

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

// servedTruth is a vLLM or SGLang engine for the search's tests: the
// estimate with a hidden extra overhead (and a per-launch jitter) on top
// is what the engine does, and each launch reports what the real engine
// prints: vLLM its pool in GiB and tokens, or, when it refuses the
// max_model_len, the pool and "the estimated maximum model length"; SGLang
// max_total_num_tokens. The search sees only those reports. It measures
// that the search converges on what an engine reports in few launches,
// not the estimate's accuracy (the truth here is the estimate).
type servedTruth struct {
	t        *testing.T
	v        Validation
	hidden   int64
	jitter   []int64
	launches int
}

func (e *servedTruth) launcher() Launcher {
	return func(_ context.Context, p Point) (Observation, error) {
		j := e.jitter[e.launches%len(e.jitter)]
		e.launches++
		s := e.v.Settings
		s.MaxTotalTokens, s.MaxNumBatchedTokens = p.MaxTotalTokens, p.MaxBatchPrefillTokens
		s.ExtraOverheadBytes = estimate.Bytes(e.hidden + j)
		eng := e.v.Launch.Engine
		r, err := estimate.Run(e.v.Model, e.v.Hardware, estimate.Engine{Name: eng.Name(), Version: e.v.EngineVersion}, s)
		if err != nil {
			e.t.Fatal(err)
		}
		o := Observation{Point: p, Outcome: "ok"}
		for _, l := range append(r.Startup.LogLines, r.Startup.Message) {
			eng.ParseLog(l, &o.Reported)
		}
		if !r.Startup.Fits {
			o.Outcome, o.Failure = "failed", r.Startup.Failure
		}
		return o, nil
	}
}

// TestSearchServedEngines: against vLLM v0.21.0 and SGLang v0.5.18 that
// keep 0.7–1.5 GiB more per GPU than the estimate (and up to 200 MB more
// on some launches), the search places the edge from the first launch's
// report (a vLLM refusal logs its pool and the longest length that fits)
// and at most one more, then confirms the recommendation on three fresh
// launches, each of which started: ≤ 2 launches plus the confirmations.
func TestSearchServedEngines(t *testing.T) {
	m := simModels()["llama3-8b"]
	h100 := gpu("NVIDIA H100 80GB HBM3", 85_031_714_816, 90)
	for _, c := range []struct {
		eng    Engine
		ver    string
		hidden int64
		// placing is how many launches placed the edge before the
		// confirmations; rec the recommendation.
		placing, rec int
	}{
		// Launch 1 at the estimate's 50,640 less the margin's 2,048 tokens
		// (256 MiB / 131,072 B) is refused: the pool is 700 MiB (5,600
		// tokens) smaller. Launch 2 at that edge less the margin starts
		// 200 MB worse (jitter); the margin grows to twice the 200 MB
		// spread and the recommendation to 40,432.
		{VLLM{}, "0.21.0", 700 << 20, 2, 40432},
		{VLLM{}, "0.21.0", 1536 << 20, 2, 33744},
		// SGLang's first start reports its pool: one launch places the edge.
		{SGLang{}, "0.5.18", 700 << 20, 1, 68946},
	} {
		t.Run(fmt.Sprintf("%s-%dMiB", c.eng.Name(), c.hidden>>20), func(t *testing.T) {
			v := Validation{Model: m, Hardware: estimate.Hardware{GPU: h100, Count: 1}, EngineVersion: c.ver,
				Settings: estimate.Settings{GPUMemoryUtilization: 0.3, MemFractionStatic: 0.3}, Tolerance: 0.01, Confirm: 3, Margin: DefaultMargin, MaxLaunches: 12,
				Launch: Config{Engine: c.eng}}
			plan, _, err := PlanFor(v)
			if err != nil {
				t.Fatal(err)
			}
			truth := &servedTruth{t: t, v: v, hidden: c.hidden, jitter: []int64{0, 200_000_000, 50_000_000}}
			edge, err := Search(context.Background(), plan, truth.launcher(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("predicted %d, launches %v, recommended %d (%d/%d), notes %q", plan.Predicted, totals(edge), edge.Recommended.MaxTotalTokens, edge.Started, edge.Tried, edge.Notes)
			if !edge.Confirmed || edge.Started != edge.Tried || edge.Tried != 3 || edge.Launches-edge.Tried != c.placing || edge.Recommended.MaxTotalTokens != c.rec {
				t.Errorf("%d launches (%d at the recommendation %d), confirmed %v, started %d; want %d placing + 3, %d confirmed",
					edge.Launches, edge.Tried, edge.Recommended.MaxTotalTokens, edge.Confirmed, edge.Started, c.placing, c.rec)
			}
		})
	}
}

// TestSearchStopsWhenTheLimitIsNotTheCause: vLLM sizes a pool of 485,458
// tokens at every length and then runs out of memory capturing its CUDA
// graphs. Two launches at different lengths show it; the search stops
// there (not at --max-launches) and says to lower the memory fraction.
func TestSearchStopsWhenTheLimitIsNotTheCause(t *testing.T) {
	pl := toyPlan()
	launches := 0
	edge, err := Search(context.Background(), pl, func(_ context.Context, p Point) (Observation, error) {
		launches++
		return Observation{Point: p, Outcome: "failed", Failure: estimate.FailureCUDAOOM, Reported: Reported{KVTokens: 485_458}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if launches != 2 || !edge.NotTheLimit || edge.Confirmed || len(edge.Notes) == 0 || !strings.Contains(edge.Notes[0], "(485,458 tokens on the last)") {
		t.Errorf("%d launches, edge %+v", launches, edge)
	}
}
