package probe

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

// truth is a simulated engine: the estimator's physics with coefficients
// the estimator does not know (extra fixed overhead, a different wiggle
// room, a larger or smaller activation peak, per-launch jitter).
type truth struct {
	name      string
	model     estimate.Model // what the estimator sees
	hidden    estimate.Model // same weights, activation scaled through the MLP width
	hw        estimate.Hardware
	overhead  estimate.Bytes
	wiggle    float64
	jitter    estimate.Bytes
	prefill   int
	rng       *rand.Rand
	estimator estimate.Hardware
}

func gpu(name string, total int64, cc int) estimate.GPU {
	return estimate.GPU{Name: name, TotalBytes: estimate.Bytes(total), ComputeCapability: cc}
}

var (
	simH100 = gpu("NVIDIA H100 80GB HBM3", 85_017_755_648, 90)
	simL4   = gpu("NVIDIA L4", 23_570_219_008, 89)
	simA100 = gpu("NVIDIA A100-SXM4-80GB", 85_100_068_864, 80)
	simL40S = gpu("NVIDIA L40S", 47_803_596_800, 89)
	simA10G = gpu("NVIDIA A10G", 23_684_186_112, 86)
)

func simModels() map[string]estimate.Model {
	ms := map[string]estimate.Model{
		"llama3-8b":  {Type: "llama", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16},
		"qwen25-7b":  {Type: "qwen2", Layers: 28, Hidden: 3584, Heads: 28, KVHeads: 4, Intermediate: 18944, Vocab: 152064, MaxPositions: 32768, DType: estimate.BF16},
		"mistral-7b": {Type: "mistral", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, Intermediate: 14336, Vocab: 32768, MaxPositions: 32768, DType: estimate.BF16},
		"qwen3-14b":  {Type: "qwen3", Layers: 40, Hidden: 5120, Heads: 40, KVHeads: 8, HeadDim: 128, Intermediate: 17408, Vocab: 151936, MaxPositions: 40960, DType: estimate.BF16},
		"qwen3-32b":  {Type: "qwen3", Layers: 64, Hidden: 5120, Heads: 64, KVHeads: 8, HeadDim: 128, Intermediate: 25600, Vocab: 151936, MaxPositions: 40960, DType: estimate.BF16},
		"llama3-70b": {Type: "llama", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, Intermediate: 28672, Vocab: 128256, MaxPositions: 131072, DType: estimate.BF16},
	}
	for k, m := range ms {
		m.Tensors = estimate.SynthesizeTensors(m)
		ms[k] = m
	}
	return ms
}

// truths builds n simulated ground truths over models, GPUs and hidden
// coefficients, keeping only those whose edge is below the model's context
// (an edge at the cap needs one launch and says nothing about the search).
func truths(t testing.TB, n int) []*truth {
	ms := simModels()
	type setup struct {
		model string
		g     estimate.GPU
		count int
	}
	setups := []setup{
		{"llama3-8b", simL4, 1}, {"llama3-8b", simA10G, 1}, {"qwen25-7b", simL4, 1}, {"mistral-7b", simL4, 1},
		{"qwen3-14b", simL40S, 1}, {"qwen3-32b", simH100, 1}, {"qwen3-32b", simA100, 1}, {"llama3-70b", simH100, 2},
		{"llama3-70b", simA100, 2}, {"qwen3-14b", simA10G, 2}, {"qwen3-32b", simL40S, 2}, {"llama3-8b", simL4, 1},
	}
	rng := rand.New(rand.NewPCG(42, 7))
	var out []*truth
	for i := 0; len(out) < n && i < 400; i++ {
		s := setups[i%len(setups)]
		m := ms[s.model]
		hidden := m
		factor := 0.85 + 0.4*rng.Float64() // activation 0.85–1.25× through the MLP width
		hidden.Intermediate = int(float64(m.Intermediate) * factor)
		tr := &truth{
			model: m, hidden: hidden, hw: estimate.Hardware{GPU: s.g, Count: s.count},
			overhead: estimate.Bytes(rng.Float64() * float64(estimate.GiB)),
			wiggle:   0.89 + 0.02*rng.Float64(),
			jitter:   estimate.Bytes(rng.Float64() * 16 * float64(estimate.MiB)),
			rng:      rand.New(rand.NewPCG(uint64(i), 99)),
		}
		tr.name = fmt.Sprintf("%s 1x%d %s ovh=%.2fGiB act=%.2f W=%.3f", s.model, s.count, s.g.Name, tr.overhead.GiBs(), factor, tr.wiggle)
		// Both sides use the estimator's default prefill for this GPU.
		res, err := estimate.Run(m, tr.hw, estimate.Engine{Name: "tgi"}, estimate.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		tr.prefill = res.Startup.MaxBatchPrefillTokens
		if star := tr.edge(); star > 2 && star < m.MaxPositions {
			out = append(out, tr)
		}
	}
	if len(out) < n {
		t.Fatalf("only %d truths", len(out))
	}
	return out
}

func (tr *truth) settings(p Point) estimate.Settings {
	return estimate.Settings{MaxInputTokens: p.MaxInputTokens, MaxTotalTokens: p.MaxTotalTokens, MaxBatchPrefillTokens: p.MaxBatchPrefillTokens, WiggleRoom: tr.wiggle}
}

// start runs the hidden physics at a point; jitter moves the card's free
// memory a little on every launch, as real launches do.
func (tr *truth) start(p Point, jitter bool) (estimate.Startup, estimate.Bytes) {
	hw := tr.hw
	extra := tr.overhead
	if jitter {
		extra += estimate.Bytes(tr.rng.Float64() * float64(tr.jitter))
	}
	hw.GPU.TotalBytes -= extra
	res, err := estimate.Run(tr.hidden, hw, estimate.Engine{Name: "tgi"}, tr.settings(p))
	if err != nil {
		panic(err)
	}
	// What NVML would see at the warm-up peak: the hidden overhead is in use
	// too, and no reading exceeds the card.
	used := min(res.Startup.WarmupBytes+extra, tr.hw.GPU.TotalBytes)
	return res.Startup, used
}

// edge is the true largest max_total_tokens that starts (no jitter).
func (tr *truth) edge() int {
	ok := func(t int) bool {
		st, _ := tr.start(Point{MaxInputTokens: t - 1, MaxTotalTokens: t, MaxBatchPrefillTokens: tr.prefill}, false)
		return st.Fits
	}
	hi := tr.model.MaxPositions
	if ok(hi) {
		return hi
	}
	lo := 0
	for _, c := range []int{tr.prefill + 1, 4096, 1024, 256} {
		if c < hi && ok(c) {
			lo = c
			break
		}
	}
	if lo == 0 {
		return 0
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

func (tr *truth) launcher() Launcher {
	return func(_ context.Context, p Point) (Observation, error) {
		st, used := tr.start(p, true)
		o := Observation{Point: p, Outcome: "ok", PeakBytes: map[int]uint64{0: uint64(used)}}
		switch {
		case st.Fits:
			o.Reported.MaxBatchTotalTokensLog = st.MaxBatchTotalTokens
		case st.MaxBatchTotalTokens > 0:
			// Failed after warm-up: TGI logged "KV-cache blocks: N, size: 1" first.
			o.Outcome, o.Failure = "failed", st.Failure
			o.Reported.KVBlocks, o.Reported.BlockSize = st.MaxBatchTotalTokens, 1
		default:
			o.Outcome, o.Failure = "failed", st.Failure
		}
		return o, nil
	}
}

func (tr *truth) plan(tol float64) Plan {
	predict := func(p Point) Estimate {
		res, err := estimate.Run(tr.model, tr.hw, estimate.Engine{Name: "tgi"}, estimate.Settings{MaxInputTokens: p.MaxInputTokens, MaxTotalTokens: p.MaxTotalTokens, MaxBatchPrefillTokens: p.MaxBatchPrefillTokens})
		if err != nil {
			return Estimate{}
		}
		st := res.Startup
		return Estimate{Fits: st.Fits, Budget: st.MaxBatchTotalTokens, WarmTokens: st.WarmupTokens,
			WarmBytes: int64(st.WarmupBytes), TokenBytes: int64(res.KVBytesPerToken)}
	}
	shifted := func(delta int64) int {
		res, err := estimate.Run(tr.model, tr.hw, estimate.Engine{Name: "tgi"}, estimate.Settings{MaxBatchPrefillTokens: tr.prefill, ExtraOverheadBytes: estimate.Bytes(delta)})
		if err != nil {
			return 0
		}
		return res.Boundary.MaxTotalTokens
	}
	return Plan{Predicted: shifted(0), Cap: tr.model.MaxPositions, Prefill: tr.prefill, Tolerance: tol, Predict: predict, Shifted: shifted}
}

// gridSearch is a baseline like the existing profilers': a 4×4 grid over
// (max_total_tokens, max_batch_prefill_tokens), then 6 refinement rounds
// that bisect the ok/fail interval of max_total_tokens at each of the 4
// prefill values; then, to compare precision, it keeps bisecting at the
// search's own prefill until ±tol. It returns the launches after the 6
// rounds, the relative error then, and the launches to reach ±tol.
func gridSearch(tr *truth, tol float64) (launches6 int, err6 float64, launchesTol int) {
	launch := tr.launcher()
	ps := []int{tr.prefill / 2, tr.prefill, tr.prefill * 3 / 2, tr.prefill * 2}
	capT := tr.model.MaxPositions
	type iv struct{ lo, hi int }
	ivs := make([]iv, len(ps))
	n := 0
	for i, p := range ps {
		ivs[i] = iv{0, capT + 1}
		for _, f := range []float64{0.25, 0.5, 0.75, 1} {
			t := int(f * float64(capT))
			o, _ := launch(context.Background(), Point{MaxInputTokens: t - 1, MaxTotalTokens: t, MaxBatchPrefillTokens: p})
			n++
			if o.OK() {
				ivs[i].lo = max(ivs[i].lo, t)
			} else if t < ivs[i].hi {
				ivs[i].hi = t
			}
		}
	}
	bisect := func(i int) {
		lo, hi := ivs[i].lo, ivs[i].hi
		mid := (max(lo, 2) + hi) / 2
		o, _ := launch(context.Background(), Point{MaxInputTokens: mid - 1, MaxTotalTokens: mid, MaxBatchPrefillTokens: ps[i]})
		n++
		if o.OK() {
			ivs[i].lo = mid
		} else {
			ivs[i].hi = mid
		}
	}
	for round := 0; round < 6; round++ {
		for i := range ps {
			if ivs[i].hi-ivs[i].lo > 1 {
				bisect(i)
			}
		}
	}
	launches6 = n
	star := float64(tr.edge())
	err6 = (float64(ivs[1].lo) - star) / star
	for float64(ivs[1].hi-ivs[1].lo) > tol*float64(ivs[1].hi+ivs[1].lo) && n < 1000 {
		bisect(1)
	}
	return launches6, err6, n
}

func median(xs []int) float64 {
	s := slices.Clone(xs)
	sort.Ints(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

// TestSearchPinsEdgeInFewLaunches is issue 5's benchmark as a test: over 24
// simulated ground truths (6 models, 5 GPUs, TP 1–2, hidden overhead 0–1
// GiB, activation 0.85–1.25×, wiggle 0.89–0.91, jitter up to 16 MiB), the
// search pins the edge to ±1% in a median of ≤ 3 launches and at most 5, and
// the pinned interval holds the true edge. The hidden ranges are what the
// estimator's runtime terms can plausibly be off by (TGI's CUDA context and
// allocator factor are set from two reports; the research behind them saw
// 0.3–0.8 GB of non-PyTorch memory across machines).
func TestSearchPinsEdgeInFewLaunches(t *testing.T) {
	const tol = 0.01
	var ours, grid6, gridTol []int
	var gridErr []float64
	for _, tr := range truths(t, 24) {
		star := tr.edge()
		e, err := Search(context.Background(), tr.plan(tol), tr.launcher(), nil)
		if err != nil {
			t.Fatal(err)
		}
		l6, err6, lt := gridSearch(tr, tol)
		ours, grid6, gridTol, gridErr = append(ours, e.Launches), append(grid6, l6), append(gridTol, lt), append(gridErr, err6)
		predErr := 100 * (float64(tr.plan(tol).Predicted) - float64(star)) / float64(star)
		t.Logf("%-62s true %6d predicted %+6.1f%% → [%6d, %6d) in %d launches; grid: %3d launches (%+5.1f%%), %3d to ±1%%",
			tr.name, star, predErr, e.Lo, e.Hi, e.Launches, l6, 100*err6, lt)
		if !e.Pinned {
			t.Errorf("%s: not pinned after %d launches: [%d, %d)", tr.name, e.Launches, e.Lo, e.Hi)
		}
		// Jitter can move a launch near the edge either way by a few tokens.
		if slack := star / 200; e.Lo > star+slack || (e.Hi > 0 && e.Hi <= star-slack) {
			t.Errorf("%s: interval [%d, %d) misses the true edge %d", tr.name, e.Lo, e.Hi, star)
		}
	}
	mo, mg := median(ours), median(gridTol)
	t.Logf("launches to ±1%%: vramcalc median %.1f worst %d; grid baseline after 6 rounds median %.1f (edge %.1f%% off), to ±1%% median %.1f worst %d; ratio %.1f×",
		mo, slices.Max(ours), median(grid6), 100*medianF(gridErr), mg, slices.Max(gridTol), mg/mo)
	if mo > 3 || slices.Max(ours) > 5 {
		t.Errorf("launches: median %.1f, worst %d; want ≤ 3 and ≤ 5", mo, slices.Max(ours))
	}
}

func medianF(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

func BenchmarkSearchLaunches(b *testing.B) {
	ts := truths(b, 24)
	var total, n int
	for b.Loop() {
		for _, tr := range ts {
			e, _ := Search(context.Background(), tr.plan(0.01), tr.launcher(), nil)
			total += e.Launches
			n++
		}
	}
	b.ReportMetric(float64(total)/float64(n), "launches/edge")
	_ = math.Abs
}
