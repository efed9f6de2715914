package validatecmd

import (
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/probe"
)

// reconRow is one memory component of one GPU (the most loaded): the
// estimate at the recommendation, what the engine's log reported and what
// NVML saw on a launch there, in bytes; nil where that side says nothing
// of the component.
type reconRow struct {
	Component string `json:"component"`
	Estimate  *int64 `json:"estimate_bytes"`
	Log       *int64 `json:"log_bytes"`
	NVML      *int64 `json:"nvml_bytes"`
}

// some is v, or nil when v is not positive (not reported).
func some(v int64) *int64 {
	if v <= 0 {
		return nil
	}
	return &v
}

// reconcile is the one table for every engine (issue 12 §4): per
// component, the estimate at the recommendation beside the engine's log
// (vLLM's "Model loading took", "Available KV cache memory" and "Graph
// capturing finished … took"; SGLang's "Load weight end … mem usage" and
// K + V sizes; TGI's budget × the KV per token) and NVML (after the
// weights loaded, the warm-up's or profile run's peak beyond them, the
// launch's peak). The launch read is the last that started at the
// recommendation, else the last that started; nil when none did.
func reconcile(res probe.Result) []reconRow {
	o := reconciledLaunch(res.Edge)
	if o == nil {
		return nil
	}
	est, pg := res.AtRecommended, res.AtRecommended.PerGPU
	loaded, warm := int64(maxOf(o.LoadedBytes)), int64(o.WarmupPeak())
	kvLog := o.Reported.KVBytes
	if kvLog == 0 && o.Budget() > 0 {
		kvLog = int64(o.Budget()) * int64(est.KVBytesPerToken)
	}
	resident := int64(pg.CUDAContext + pg.NCCL + pg.Other + pg.Weights)
	warmEst := int64(est.Startup.WarmupBytes) - resident
	if est.Startup.WarmupBytes == 0 {
		warmEst = int64(pg.ActivationPeak)
	}
	var warmNVML int64
	if loaded > 0 && warm > loaded {
		warmNVML = warm - loaded
	}
	return []reconRow{
		{"weights", some(int64(pg.Weights)), some(o.Reported.WeightsBytes), nil},
		{"context + weights after load", some(resident), nil, some(loaded)},
		{"KV pool", some(int64(pg.KVCache)), some(kvLog), nil},
		{"warm-up / profile peak beyond the loaded model", some(warmEst), nil, some(warmNVML)},
		{"CUDA graphs", some(int64(pg.CUDAGraphs)), some(o.Reported.GraphBytes), nil},
		{"CUDA context, non-torch, NCCL", some(int64(pg.Overhead())), nil, nil},
		{"in use once serving (NVML: the launch's peak)", some(int64(pg.Total())), nil, some(int64(o.MaxPeak()))},
	}
}

// reconciledLaunch is the last launch that started at the recommendation,
// else the last that started.
func reconciledLaunch(e probe.Edge) *probe.Observation {
	var last *probe.Observation
	for i := range e.Observations {
		o := &e.Observations[i]
		if !o.OK() {
			continue
		}
		if o.Point == e.Recommended || last == nil || last.Point != e.Recommended {
			last = o
		}
	}
	return last
}

func maxOf(m map[int]uint64) uint64 {
	var v uint64
	for _, x := range m {
		v = max(v, x)
	}
	return v
}

// reconRows are the table's rows in GiB.
func reconRows(rows []reconRow, spec engineSpec) cmdutil.Rows {
	gib := func(v *int64) string {
		if v == nil {
			return ""
		}
		return cmdutil.GiB(*v)
	}
	t := cmdutil.Rows{Header: []string{"GiB per GPU", "estimate", spec.log, "NVML"}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Component, gib(r.Estimate), gib(r.Log), gib(r.NVML)})
	}
	return t
}
