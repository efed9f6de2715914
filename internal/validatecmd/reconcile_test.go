package validatecmd

import (
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/probe"
)

// TestReconcile pins the reconciliation of one vLLM launch at the
// recommendation: the estimate's components beside the log's (weights
// 14.96 GiB, pool 2.51 GiB, graphs 0.38 GiB) and NVML's (16.27 GiB after
// loading, a profile peak 0.25 GiB above it, 18.72 GiB at most); a TGI
// launch's pool comes from its budget × the KV per token (20,000 ·
// 131,072 B = 2,621,440,000 B).
func TestReconcile(t *testing.T) {
	const gib = 1 << 30
	rec := probe.Point{MaxInputTokens: 19183, MaxTotalTokens: 19184}
	o := probe.Observation{Point: rec, Outcome: "ok", LoadedBytes: map[int]uint64{0: 16_270_000_000}, WarmupPeakBytes: map[int]uint64{0: 16_520_000_000},
		PeakBytes: map[int]uint64{0: 18_720_000_000}, Reported: probe.Reported{WeightsBytes: 14_960_000_000, KVBytes: 2_510_000_000, GraphBytes: 380_000_000, KVTokens: 20528}}
	failed := probe.Observation{Point: probe.Point{MaxTotalTokens: 21000}, Outcome: "failed"}
	res := probe.Result{Edge: probe.Edge{Recommended: rec, Observations: []probe.Observation{o, failed}},
		AtRecommended: estimate.Result{KVBytesPerToken: 131072, PerGPU: estimate.Breakdown{Weights: 15 * gib, KVCache: 2 * gib, ActivationPeak: gib / 4,
			CUDAContext: gib / 2, CUDAGraphs: gib / 2}, Startup: estimate.Startup{WarmupBytes: 15*gib + gib/2 + gib/4}}}
	want := map[string][3]int64{
		"weights":                      {15 * gib, 14_960_000_000, -1},
		"context + weights after load": {15*gib + gib/2, -1, 16_270_000_000},
		"KV pool":                      {2 * gib, 2_510_000_000, -1},
		// 16,520,000,000 − 16,270,000,000 = 250,000,000
		"warm-up / profile peak beyond the loaded model": {gib / 4, -1, 250_000_000},
		"CUDA graphs":                   {gib / 2, 380_000_000, -1},
		"CUDA context, non-torch, NCCL": {gib / 2, -1, -1},
		// 15 + 2 + 0.5 + 0.5 GiB
		"in use once serving (NVML: the launch's peak)": {18 * gib, -1, 18_720_000_000},
	}
	val := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	rows := reconcile(res)
	if len(rows) != len(want) {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if got := [3]int64{val(r.Estimate), val(r.Log), val(r.NVML)}; got != want[r.Component] {
			t.Errorf("%s: %v, want %v", r.Component, got, want[r.Component])
		}
	}
	// TGI logs no pool in bytes: its budget times the KV per token.
	o.Reported = probe.Reported{MaxBatchTotalTokensLog: 20000}
	res.Edge.Observations = []probe.Observation{o}
	if kv := reconcile(res)[2]; val(kv.Log) != 2_621_440_000 {
		t.Errorf("TGI pool from the budget: %d", val(kv.Log))
	}
	if reconcile(probe.Result{Edge: probe.Edge{Observations: []probe.Observation{failed}}}) != nil {
		t.Error("rows without a start")
	}
}
