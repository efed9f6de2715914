package main

import (
	"fmt"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// start plays a scheduler's start: the weights, the KV pool, the decode
// CUDA graphs, the sizing line, each with SGLang's lines, or its failure.
func (l *launch) start() (int, bool) {
	p, log, total := l.plan, l.log, l.Env.GPUTotal
	avail := func(used int64) float64 { return gb(total - used) }
	l.SetRanks(func(r int) int64 { return p.Before[r] })
	for r := range p.TP {
		log.print(l.prefix(r), fmt.Sprintf("Load weight begin. avail mem=%.2f GB", avail(p.Before[r])))
	}
	if !l.Step(3) {
		return exitOK, false
	}
	if p.Fail == failLoadOOM {
		return l.schedulerFailed("torch.OutOfMemoryError: " + p.OOM.Message()), false
	}
	l.SetRanks(func(r int) int64 { return p.Before[r] + p.Weights })
	for r := range p.TP {
		log.print(l.prefix(r), fmt.Sprintf("Load weight end. elapsed=%.2f s, type=%s, avail mem=%.2f GB, mem usage=%.2f GB.", l.Env.StartupDelay.Seconds()/3, archName(l.model), avail(p.Before[r]+p.Weights), gb(p.Weights)))
	}
	switch p.Fail {
	case failNoRoom:
		return l.schedulerFailed("ValueError: " + p.Message), false
	case failNotEnough:
		return l.schedulerFailed("RuntimeError: " + p.Message), false
	}
	kv := func(r int) int64 { return p.Before[r] + p.Weights + 2*p.KBytes }
	l.SetRanks(kv)
	for r := range p.TP {
		log.print(l.prefix(r), fmt.Sprintf("KV Cache is allocated. dtype: %s, #tokens: %d, K size: %.2f GB, V size: %.2f GB", kvDTypeName(l.args.KVDType), p.Tokens, gb(p.KBytes), gb(p.KBytes)))
		log.print(l.prefix(r), fmt.Sprintf("Memory pool end. avail mem=%.2f GB", avail(kv(r))))
	}
	if !l.Step(3) {
		return exitOK, false
	}
	if len(p.CaptureBS) > 0 {
		log.print(l.prefix(0), fmt.Sprintf("Capture target decode CUDA graph begin. backend=flashinfer, num_tokens_per_req=1, bs=%s, avail mem=%.2f GB", simkit.PyInts(p.CaptureBS), avail(kv(0))))
		if p.Fail == failGraphOOM {
			return l.schedulerFailed("torch.OutOfMemoryError: " + p.OOM.Message()), false
		}
		l.SetRanks(p.Serving)
		log.print(l.prefix(0), fmt.Sprintf("Capture target decode CUDA graph end. elapsed=%.2f s, mem usage=%.2f GB, avail mem=%.2f GB.", l.Env.StartupDelay.Seconds()/3, gb(p.Graphs), avail(p.Serving(0))))
	}
	log.print(l.prefix(0), fmt.Sprintf("max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d, max_running_requests=%d, context_len=%d, available_gpu_mem=%.2f GB",
		p.Tokens, p.Chunk, maxPrefillTokens, p.MaxRunning, p.ContextLen, avail(p.Serving(0))))
	return exitOK, true
}

// archName is the model class the weight line names.
func archName(m *simkit.Model) string {
	if n, ok := map[string]string{"qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}[m.ModelType]; ok {
		return n
	}
	return "LlamaForCausalLM"
}
