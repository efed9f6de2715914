package main

// The benchmark of validate's search for vLLM (issue 12 §1: the first
// start or refusal places the edge, ≤ 2 launches plus the confirmations)
// against ground truths only this simulator knows. Every launch runs the
// simulated `vllm serve` in process (its checks, log lines and exit code;
// the webserver is not opened: reaching it is the start) and probe reads
// its log with the parser validate uses. The estimate enters only through
// probe's plan, as in vramcalc validate; the truth is this package's
// memory model, written from vLLM's source.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/probe"
)

// vllmTruth is one simulated deployment and its hidden coefficients.
type vllmTruth struct {
	model, name string
	sku         gpus.SKU
	meta        estimate.Model
	tp          int
	util        float64
	overhead    int64   // SIM_EXTRA_OVERHEAD_BYTES
	act         float64 // SIM_ACTIVATION_FACTOR
	jitter      int64   // SIM_JITTER_BYTES
	rng         *rand.Rand
	// safe is the largest --max-model-len that starts with the worst
	// jitter on every GPU; capT the model's context.
	safe, capT int
}

func (h *vllmTruth) String() string {
	return fmt.Sprintf("%s on %d×%s util %.2f (hidden %d MiB, ×%.2f, jitter ≤ %d MB)", h.model, h.tp, h.sku.GPU.Name, h.util, h.overhead>>20, h.act, h.jitter/1_000_000)
}

func (h *vllmTruth) env(seed uint64, overhead, jitter int64) func(string) string {
	vars := map[string]string{"SIM_GPU_NAME": h.name, "SIM_GPU_TOTAL_BYTES": strconv.FormatInt(int64(h.sku.GPU.TotalBytes), 10),
		"SIM_NUM_GPUS": strconv.Itoa(h.tp), "SIM_EXTRA_OVERHEAD_BYTES": strconv.FormatInt(overhead, 10),
		"SIM_ACTIVATION_FACTOR": strconv.FormatFloat(h.act, 'g', -1, 64), "SIM_JITTER_BYTES": strconv.FormatInt(jitter, 10),
		"SIM_SEED": strconv.FormatUint(seed, 10), "SIM_STARTUP_DELAY": "0s", "HF_HOME": "/nonexistent"}
	return func(k string) string { return vars[k] }
}

func (h *vllmTruth) argv(t int) []string {
	return probe.VLLM{}.Args(h.model, probe.Point{MaxInputTokens: t - 1, MaxTotalTokens: t}, probe.LaunchOptions{NumShard: h.tp, GPUMemoryUtilization: h.util})
}

var errServed = errors.New("served")

// launch is one fresh start at t read back as validate reads a container.
func (h *vllmTruth) launch(t int) probe.Observation {
	return h.launchWith(t, h.env(h.rng.Uint64(), h.overhead, h.jitter))
}

func (h *vllmTruth) launchWith(t int, getenv func(string) string) probe.Observation {
	var out bytes.Buffer
	served := false
	ap := &app{ctx: context.Background(), getenv: getenv, stdout: &out, stderr: &out, now: time.Now, watchdog: time.Second,
		listen: func(string, string) (net.Listener, error) { served = true; return nil, errServed }}
	code := ap.run(h.argv(t))
	o := probe.Observation{Point: probe.Point{MaxInputTokens: t - 1, MaxTotalTokens: t}, Outcome: "ok"}
	lines := strings.Split(out.String(), "\n")
	for _, l := range lines {
		probe.VLLM{}.ParseLog(l, &o.Reported)
	}
	if !served {
		o.Outcome, o.ExitCode = "failed", code
		o.Failure = probe.VLLM{}.Classify(code, lines[max(0, len(lines)-200):])
	}
	return o
}

// startsAtWorst: t starts with every GPU at the jitter's top (the
// jitter's whole range added to the overhead, none drawn).
func (h *vllmTruth) startsAtWorst(t int) bool {
	return h.launchWith(t, h.env(0, h.overhead+h.jitter, 0)).OK()
}

// safeEdge bisects startsAtWorst (starts are monotone in the length).
func (h *vllmTruth) safeEdge() int {
	lo, hi := 1, h.capT+1
	if !h.startsAtWorst(lo) {
		return 0
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; h.startsAtWorst(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

func (h *vllmTruth) validation() probe.Validation {
	return probe.Validation{Model: h.meta, Hardware: estimate.Hardware{GPU: h.sku.GPU, Count: h.tp}, EngineVersion: "0.21.0",
		Settings: estimate.Settings{GPUMemoryUtilization: h.util}, Launch: probe.Config{Engine: probe.VLLM{}, Model: h.model}}
}

// vllmTruths draws n deployments whose safe edge is below the context and
// above 1,024 tokens.
func vllmTruths(t testing.TB, n int) []*vllmTruth {
	models := []string{"meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct", "Qwen/Qwen2.5-7B-Instruct",
		"mistralai/Mistral-7B-Instruct-v0.3", "meta-llama/Llama-3.2-1B-Instruct"}
	cards := []struct{ key, name string }{{"H100", "NVIDIA H100 80GB HBM3"}, {"A100-80GB", "NVIDIA A100-SXM4-80GB"}, {"L40S", "NVIDIA L40S"}, {"L4", "NVIDIA L4"}, {"A10G", "NVIDIA A10G"}}
	client := &hfmeta.Client{Offline: true, CacheDir: t.TempDir()}
	rng := rand.New(rand.NewPCG(12, 2026))
	var out []*vllmTruth
	for i := 0; len(out) < n && i < 4000; i++ {
		card, model := cards[rng.IntN(len(cards))], models[rng.IntN(len(models))]
		sku, err := gpus.Lookup(card.key)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := client.Resolve(context.Background(), model)
		if err != nil {
			t.Fatal(err)
		}
		h := &vllmTruth{model: model, name: card.name, sku: sku, meta: meta.Model, tp: []int{1, 2, 4}[rng.IntN(3)], util: 0.5 + 0.45*rng.Float64(),
			overhead: rng.Int64N(2 << 30), act: 0.8 + rng.Float64(), jitter: rng.Int64N(200_000_001), rng: rand.New(rand.NewPCG(uint64(i), 7)), capT: meta.Model.MaxPositions}
		if h.safe = h.safeEdge(); h.safe < 1024 || h.safe >= h.capT {
			continue
		}
		out = append(out, h)
	}
	if len(out) < n {
		t.Fatalf("only %d deployments with an edge below the context", len(out))
	}
	return out
}

// vllmOutcome is one method's result on one deployment.
type vllmOutcome struct {
	launches, placing, rec, fresh int
}

// ours is validate's search: launches, those before the confirmations,
// the recommendation, and how many of 20 fresh launches at it start.
func (h *vllmTruth) ours(t testing.TB) vllmOutcome {
	pl, _, err := probe.PlanFor(h.validation())
	if err != nil {
		t.Fatal(err)
	}
	e, err := probe.Search(context.Background(), pl, func(_ context.Context, p probe.Point) (probe.Observation, error) {
		return h.launch(p.MaxTotalTokens), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := vllmOutcome{launches: e.Launches, placing: e.Launches - e.Tried}
	if e.Confirmed {
		o.rec, o.fresh = e.Recommended.MaxTotalTokens, h.freshStarts(e.Recommended.MaxTotalTokens)
	}
	return o
}

// bisection is plain bisection on --max-model-len to ±1% from the
// starts and failures alone, then 3 confirmations at the largest start
// (stepping down 1% after a failure).
func (h *vllmTruth) bisection() vllmOutcome {
	lo, hi, n := 1, h.capT+1, 0
	for float64(hi-lo) > 0.01*float64(hi+lo) && hi-lo > 1 {
		mid := (lo + hi) / 2
		n++
		if h.launch(mid).OK() {
			lo = mid
		} else {
			hi = mid
		}
	}
	placing := n
	for ok := 0; ok < 3 && n < 40; {
		n++
		if h.launch(lo).OK() {
			ok++
		} else {
			ok, lo = 0, lo*99/100
		}
	}
	return vllmOutcome{launches: n, placing: placing, rec: lo, fresh: h.freshStarts(lo)}
}

// ownEstimate is the strongest simple alternative: one launch at the
// model's context, whose refusal names vLLM's own "estimated maximum model
// length"; that value (or the context, when it starts) is confirmed on 3
// launches, stepping down 1% after a failure.
func (h *vllmTruth) ownEstimate() vllmOutcome {
	rec, n := h.capT, 1
	if o := h.launch(h.capT); !o.OK() && o.Reported.EstimatedMaxModelLen > 0 {
		rec = o.Reported.EstimatedMaxModelLen
	}
	for ok := 0; ok < 3 && n < 40; {
		n++
		if h.launch(rec).OK() {
			ok++
		} else {
			ok, rec = 0, rec*99/100
		}
	}
	return vllmOutcome{launches: n, placing: 1, rec: rec, fresh: h.freshStarts(rec)}
}

func (h *vllmTruth) freshStarts(t int) int {
	n := 0
	for range 20 {
		if h.launch(t).OK() {
			n++
		}
	}
	return n
}

// TestRecommendationOnVLLMTruths: validate's search against 30 vLLM
// deployments (5 models, 5 GPUs, TP 1–4, utilization 0.5–0.95, hidden
// non-torch memory 0–2 GiB, activation ×0.8–1.8, jitter 0–200 MB per GPU
// and launch) places the edge in at most 2 launches before the 3
// confirmations, and its recommendation starts on every one of 20 fresh
// launches; plain bisection and vLLM's own estimated maximum (one launch
// at the context, then its refusal's figure confirmed) are the baselines.
func TestRecommendationOnVLLMTruths(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	truths := vllmTruths(t, 30)
	var ours, bis, own []vllmOutcome
	for _, h := range truths {
		o, b, w := h.ours(t), h.bisection(), h.ownEstimate()
		ours, bis, own = append(ours, o), append(bis, b), append(own, w)
		t.Logf("%s: safe %d; ours %d launches (%d placing) → %d, %d/20 fresh; bisection %d → %d, %d/20; vLLM's own estimate %d → %d, %d/20",
			h, h.safe, o.launches, o.placing, o.rec, o.fresh, b.launches, b.rec, b.fresh, w.launches, w.rec, w.fresh)
		if o.rec == 0 || o.placing > 2 || o.fresh != 20 {
			t.Errorf("%s: %+v", h, o)
		}
	}
	t.Logf("deployments: %d; ours: %s; bisection: %s; vLLM's own estimate: %s", len(truths), summarize(ours, truths), summarize(bis, truths), summarize(own, truths))
}

// summarize is the launches' median and worst, the fresh starts, and the
// median distance below the safe edge.
func summarize(os []vllmOutcome, truths []*vllmTruth) string {
	var ls []int
	var below []float64
	fresh := 0
	for i, o := range os {
		ls = append(ls, o.launches)
		fresh += o.fresh
		if o.rec > 0 {
			below = append(below, 100*float64(truths[i].safe-o.rec)/float64(truths[i].safe))
		}
	}
	slices.Sort(ls)
	slices.Sort(below)
	return fmt.Sprintf("launches median %.1f worst %d, fresh starts %d/%d, below the safe edge median %.2f%% (worst %.2f%%)",
		float64(ls[(len(ls)-1)/2]+ls[len(ls)/2])/2, ls[len(ls)-1], fresh, 20*len(os), below[len(below)/2], below[len(below)-1])
}
