package main

import (
	"fmt"
	"math"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// simulate sizes one start and stops at the first failure.
func simulate(a *Args, m *simkit.Model, env simkit.Env) *plan {
	p := &plan{TP: a.TP, PageSize: max(a.PageSize, 1)}
	if msg := p.configure(a, m, env); msg != "" {
		p.Fail, p.Message = failArgs, msg
		return p
	}
	total := env.GPUTotal
	p.Before = make([]int64, a.TP)
	for r := range a.TP {
		p.Before[r] = env.ContextBytes + env.Overhead + env.JitterFor(r)
	}
	p.Weights = simkit.CeilDiv(m.WeightsBytes, int64(a.TP))
	if p.Before[0]+p.Weights > total {
		p.Fail, p.OOM = failLoadOOM, simkit.TorchOOM{Request: p.Weights, Total: total, Free: total - p.Before[0], InUse: p.Before[0]}
		return p
	}
	if !p.sizePool(a, m, total) {
		return p
	}
	act := actPerToken(m, a.TP)
	if len(p.CaptureBS) > 0 {
		p.CaptureBS = capped(p.CaptureBS, p.MaxRunning)
		p.Graphs = simkit.AllocRound(int64(p.CaptureBS[len(p.CaptureBS)-1])*act) + int64(len(p.CaptureBS))*graphBytesPerGraph + env.GraphExtra
		if before := p.Serving(0) - p.Graphs; before+p.Graphs > total {
			p.Fail, p.OOM = failGraphOOM, simkit.TorchOOM{Request: p.Graphs, Total: total, Free: total - before, InUse: before, Allocated: p.Weights + 2*p.KBytes}
			return p
		}
	}
	// A full chunk's prefill must fit in what the static part leaves.
	p.Activation = simkit.AllocRound(int64(math.Ceil(env.ActFactor * float64(int64(p.Chunk)*act))))
	if used := p.Serving(0); used+p.Activation > total {
		p.Fail, p.OOM = failWarmupOOM, simkit.TorchOOM{Request: p.Activation, Total: total, Free: total - used, InUse: used, Allocated: p.Weights + 2*p.KBytes}
	}
	return p
}

// capped are the capture sizes up to the running cap (the cap itself
// added when it falls between sizes).
func capped(bs []int, maxRunning int) []int {
	var out []int
	for _, s := range bs {
		if s <= maxRunning {
			out = append(out, s)
		}
	}
	if len(out) == 0 || (out[len(out)-1] != maxRunning && maxRunning < bs[len(bs)-1]) {
		out = append(out, maxRunning)
	}
	return out
}

// sizePool is _profile_available_bytes and the default pool configurator:
// rest = available after the weights − pre_model_load · (1 −
// mem_fraction_static), in GB, then tokens = rest / cell, page-aligned
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L1764-L1810,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_executor/pool_configurator.py#L415-L424).
func (p *plan) sizePool(a *Args, m *simkit.Model, total int64) bool {
	pre := gb(total - p.Before[0])
	for _, b := range p.Before {
		pre = min(pre, gb(total-b)) // the distributed minimum over ranks
	}
	after := pre - gb(p.Weights)
	rest := after - pre*(1-p.MFS)
	if rest <= 0 {
		p.MinimumMFS = 1 - after/pre
		p.SuggestedMFS = math.Ceil(p.MinimumMFS*1000) / 1000
		p.Fail, p.Message = failNoRoom, fmt.Sprintf("Loaded weights leave no GPU memory for the KV cache under --mem-fraction-static=%s. Raise --mem-fraction-static above %.3f (minimum viable = 1 - available/pre = %.4f). If using speculative decoding, draft weights are now counted.", simkit.PyFloat(p.MFS), p.SuggestedMFS, p.MinimumMFS)
		return false
	}
	kvHeads := int64(max(m.NumKVHeads()/a.TP, 1))
	p.CellBytes = kvHeads * 2 * int64(m.HeadSize()) * int64(m.Layers) * kvSize(a.KVDType)
	p.Tokens = int(int64(rest*gib) / p.CellBytes / int64(p.PageSize) * int64(p.PageSize))
	if a.MaxTotalTokens > 0 {
		p.Tokens = min(p.Tokens, a.MaxTotalTokens/p.PageSize*p.PageSize)
	}
	if p.Tokens <= 0 {
		// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/model_executor/pool_configurator.py#L71-L77
		p.Fail, p.Message = failNotEnough, "Not enough memory. Please try to increase --mem-fraction-static. Current value: mem_fraction_static="+simkit.PyFloat(p.MFS)
		return false
	}
	p.KBytes = int64(p.Tokens+p.PageSize) * kvHeads * int64(m.HeadSize()) * kvSize(a.KVDType) * int64(m.Layers)
	p.MaxRunning = resolveMaxRunning(p.Tokens, p.ContextLen, a.MaxRunningRequests)
	return true
}

// resolveMaxRunning is resolve_max_num_reqs without data parallelism
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/mem_cache/kv_cache_configurator.py#L1873-L1886).
func resolveMaxRunning(tokens, contextLen, asked int) int {
	if asked > 0 {
		return min(asked, tokens/2)
	}
	est := max(min(int(float64(tokens)/float64(contextLen)*512), 4096), 2048)
	return min(est, tokens/2)
}
