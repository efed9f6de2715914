package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// simulate sizes one start: the configuration checks, then the worker's
// memory steps, and the first failure with vLLM's text.
func simulate(a *Args, m *simkit.Model, env simkit.Env) *plan {
	p := &plan{TP: a.TP, Context: env.ContextBytes, Layers: m.Layers, BlockSize: a.BlockSize, Derived: m.MaxPositions}
	if p.Derived <= 0 {
		p.Derived = 2048 // vLLM's fallback when config.json names no length
	}
	if msg := p.configure(a, m, env); msg != "" {
		p.Fail, p.Message = failArgs, msg
		return p
	}
	total := env.GPUTotal
	p.Requested = int64(math.Ceil(float64(total) * a.Util))
	p.Free = total - p.Context
	if p.Free < p.Requested {
		p.Fail, p.Message = failFreeMemory, fmt.Sprintf("Free memory on device cuda:0 (%s/%s GiB) on startup is less than desired GPU memory utilization (%s, %s GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
			formatGiB(p.Free), formatGiB(total), pyFloat(a.Util), formatGiB(p.Requested))
		return p
	}
	p.Weights = weightsPerRank(m, a)
	if p.Context+p.Weights > total {
		p.Fail, p.OOM = failLoadOOM, simkit.TorchOOM{Request: p.Weights, Total: total, Free: total - p.Context, InUse: p.Context}
		return p
	}
	p.NonTorch = make([]int64, a.TP)
	for r := range a.TP {
		p.NonTorch[r] = env.Overhead + env.JitterFor(r)
	}
	p.Peak = profilePeak(m, a.TP, p.MaxSeqs, p.MaxBatched, env.ActFactor)
	if used := p.Context + p.NonTorch[0] + p.Weights; used+p.Peak > total {
		p.Fail, p.OOM = failProfileOOM, simkit.TorchOOM{Request: p.Peak, Total: total, Free: total - used, InUse: used, Allocated: p.Weights}
		return p
	}
	if !a.EnforceEager {
		sizes := captureSizes(p.MaxSeqs, p.MaxBatched)
		p.GraphEst, p.Captures = graphMemory(sizes, p.MaxSeqs, actPerToken(m, a.TP))
		p.GraphActual = p.GraphEst + env.GraphExtra
	}
	p.Available = make([]int64, a.TP)
	for r := range a.TP {
		p.Available[r] = p.Requested - (p.NonTorch[r] + p.Peak + p.Weights) - p.GraphEst
		if a.KVCacheMemoryBytes > 0 {
			p.Available[r] = a.KVCacheMemoryBytes
		}
	}
	kvHeads := int64(max(m.NumKVHeads()/a.TP, 1))
	p.PageBytes = 2 * int64(a.BlockSize) * kvHeads * int64(m.HeadSize()) * kvElt(a.KVDType)
	if !p.sizeKV(a.MaxModelLen) {
		return p
	}
	p.capture(total)
	return p
}

// configure resolves the lengths and batch limits and runs vLLM's
// configuration checks; it returns the refusal's text or "".
func (p *plan) configure(a *Args, m *simkit.Model, env simkit.Env) string {
	switch {
	case a.TP < 1 || a.TP > env.NumGPUs:
		// The simulator's wording: it has env.NumGPUs devices.
		return fmt.Sprintf("tensor_parallel_size (%d) must be between 1 and the %d visible GPUs.", a.TP, env.NumGPUs)
	case m.Heads%a.TP != 0:
		// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/model.py#L1142-L1147
		return fmt.Sprintf("Total number of attention heads (%d) must be divisible by tensor parallel size (%d).", m.Heads, a.TP)
	case a.MaxModelLen > p.Derived:
		// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/model.py#L2174-L2200
		return fmt.Sprintf("User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d or model_max_length=None in model's config.json). To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model uses relative position encoding (RoPE), positions exceeding derived_max_model_len lead to nan. If the model uses absolute position encoding, positions exceeding derived_max_model_len will cause a CUDA array out-of-bounds error.", a.MaxModelLen, p.Derived)
	case a.Util <= 0 || a.Util > 1:
		return fmt.Sprintf("1 validation error for CacheConfig\ngpu_memory_utilization\n  Input should be less than or equal to 1 [type=less_than_equal, input_value=%s, input_type=float]", pyFloat(a.Util))
	}
	p.MaxModelLen = a.MaxModelLen
	if p.MaxModelLen == 0 {
		p.MaxModelLen = p.Derived
	}
	batched, seqs := batchDefaults(env.GPUName, env.GPUTotal)
	p.MaxSeqs, p.MaxBatched = a.MaxNumSeqs, a.MaxBatched
	if p.MaxSeqs == 0 {
		p.MaxSeqs = seqs
	}
	if p.MaxBatched == 0 {
		// Capped to max_num_seqs × max_model_len when defaulted
		// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/engine/arg_utils.py#L2414-L2437).
		p.MaxBatched = min(batched, p.MaxSeqs*max(p.MaxModelLen, 1))
		if p.MaxModelLen < 0 {
			p.MaxBatched = min(batched, p.MaxSeqs*p.Derived)
		}
	}
	if p.MaxBatched < p.MaxSeqs {
		// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/scheduler.py#L273-L278
		return fmt.Sprintf("max_num_batched_tokens (%d) must be greater than or equal to max_num_seqs (%d).", p.MaxBatched, p.MaxSeqs)
	}
	return ""
}

// sizeKV is get_kv_cache_configs for one uniform full-attention group:
// auto-fit, the per-rank check, then the blocks of the poorest rank
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L930-L947,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L2035-L2051).
func (p *plan) sizeKV(asked int) bool {
	least := p.Available[0]
	for _, av := range p.Available {
		least = min(least, av)
	}
	if asked < 0 {
		est := 0
		if least > 0 {
			est = p.estimateMaxModelLen(p.Derived, least)
		}
		if est == 0 {
			// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L1855-L1877
			p.Fail, p.Message = failAutoFit, "Cannot auto-fit max_model_len: not enough GPU memory available to serve even a single token. Try increasing `gpu_memory_utilization`."
			return false
		}
		if p.MaxModelLen = min(est, p.Derived); est < p.Derived {
			p.AutoFrom = p.Derived
		}
	}
	for _, av := range p.Available {
		if msg := p.checkEnough(av); msg != "" {
			p.Fail, p.Message = failMaxModelLen, msg
			if av <= 0 {
				p.Fail = failNoKVMemory
			}
			return false
		}
	}
	p.NumBlocks = int(least / p.PageBytes / int64(p.Layers))
	perRequest := simkit.CeilDiv(int64(p.MaxModelLen), int64(p.BlockSize))
	p.Concurrency = float64(p.NumBlocks) / float64(perRequest)
	p.KVTokens = int(p.Concurrency * float64(p.MaxModelLen))
	return true
}

// checkEnough is _check_enough_kv_cache_memory's refusal, or ""
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/core/kv_cache_utils.py#L689-L722).
func (p *plan) checkEnough(available int64) string {
	if available <= 0 {
		return "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."
	}
	needed := p.neededBytes(p.MaxModelLen)
	if needed <= available {
		return ""
	}
	estimated := ""
	if est := p.estimateMaxModelLen(p.MaxModelLen, available); est > 0 {
		estimated = "Based on the available memory, the estimated maximum model length is " + strconv.Itoa(est) + ". "
	}
	return fmt.Sprintf("To serve at least one request with the models's max seq len (%d), (%s GiB KV cache is needed, which is larger than the available KV cache memory (%s GiB). %sTry increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details.",
		p.MaxModelLen, formatGiB(needed), formatGiB(available), estimated)
}

// capture is CUDA-graph capture after the pool is allocated: it runs out
// of memory when the graphs take more than the card has left.
func (p *plan) capture(total int64) {
	for r := range p.TP {
		before := p.Serving(r) - p.GraphActual
		if before+p.GraphActual > total {
			p.Fail, p.OOM = failGraphOOM, simkit.TorchOOM{Request: p.GraphActual, Total: total, Free: total - before, InUse: before, Allocated: p.Weights + p.KVBytes(), GPU: r}
			return
		}
	}
}

// pyFloat prints a float as Python's repr does.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	for _, c := range s {
		if c == '.' {
			return s
		}
	}
	return s + ".0"
}
