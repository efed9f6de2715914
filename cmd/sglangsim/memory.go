package main

import (
	"fmt"
	"math"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// The ground-truth memory model of one start, following SGLang v0.5.18's
// model runner and pool configurator (docs/ENGINE-SURFACE.md §B) with
// physical terms from the hidden coefficients, never from estimate.

// Hidden coefficients of the simulated SGLang.
const (
	// defaultOverhead is the memory in use before the weights (CUDA
	// context, NCCL, the distributed groups) with SIM_CUDA_CONTEXT_BYTES.
	defaultOverhead = 512 << 20
	defaultContext  = 0
	// defaultActFactor scales a prefill chunk's live activations to the
	// caching allocator's peak.
	defaultActFactor = 1.5
	// graphBytesPerGraph is what each captured decode graph costs.
	graphBytesPerGraph = 4 << 20
	// maxPrefillTokens is --max-prefill-tokens' default.
	maxPrefillTokens = 16384
	gib              = 1 << 30
)

type failure int

const (
	failNone failure = iota
	failArgs
	failLoadOOM
	failNoRoom
	failNotEnough
	failGraphOOM
	failWarmupOOM
)

// plan is one start's sizes (rank 0's where ranks differ only by jitter).
type plan struct {
	TP           int
	Before       []int64 // memory in use before the weights, per rank
	Weights      int64
	MFS          float64
	Chunk        int
	ContextLen   int
	Tokens       int // max_total_num_tokens
	MaxRunning   int
	PageSize     int
	CellBytes    int64 // KV bytes per token, all layers, K and V
	KBytes       int64 // the K buffers (V the same)
	CaptureBS    []int
	Graphs       int64
	Activation   int64 // a full prefill chunk's peak
	Fail         failure
	Message      string
	OOM          simkit.TorchOOM
	MinimumMFS   float64
	SuggestedMFS float64
}

// gb is bytes in SGLang's "GB" (GiB).
func gb(b int64) float64 { return float64(b) / gib }

// Serving is rank r's memory after capture.
func (p *plan) Serving(r int) int64 { return p.Before[r] + p.Weights + 2*p.KBytes + p.Graphs }

// deviceDefaults are _handle_gpu_memory_settings for a device of gpuMem
// MiB: chunked_prefill_size and the decode graphs' max_bs
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L4802-L4890).
func deviceDefaults(gpuMem float64, tp int) (chunk, maxBS int) {
	switch {
	case gpuMem < 20*1024:
		return 2048, 8
	case gpuMem < 35*1024:
		return 2048, map[bool]int{true: 24, false: 80}[tp < 4]
	case gpuMem < 60*1024:
		return 4096, map[bool]int{true: 32, false: 160}[tp < 4]
	case gpuMem < 160*1024:
		return 8192, map[bool]int{true: 256, false: 512}[tp < 4]
	}
	return 16384, 512
}

// defaultMFS is the mem_fraction_static heuristic with decode graphs and
// no prefill graphs: reserved = 512 + max(chunk, 2048)·1.5 + tp/8·1024 +
// 2·max_bs MiB, at least 10 GiB above 60 GiB, then round((gpu_mem −
// reserved)/gpu_mem, 3)
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L4936-L4967,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L5078-L5087).
func defaultMFS(gpuMem float64, chunk, maxBS, tp int) float64 {
	reserved := 512 + float64(max(chunk, 2048))*1.5 + float64(tp)/8*1024 + float64(maxBS)*2
	if gpuMem > 60*1024 {
		reserved = max(reserved, 10*1024)
	}
	return math.Round((gpuMem-reserved)/gpuMem*1000) / 1000
}

// captureBS is the decode graphs' batch sizes up to maxBS: 1, 2, 4, 8,
// 12, 16…256 by 8, 272…496 by 16, 512… by 32, plus maxBS
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L5133-L5163).
func captureBS(maxBS int) []int {
	all := []int{1, 2, 4, 8, 12}
	for s := 16; s <= 256; s += 8 {
		all = append(all, s)
	}
	for s := 272; s < 512; s += 16 {
		all = append(all, s)
	}
	for s := 512; s <= maxBS; s += 32 {
		all = append(all, s)
	}
	var out []int
	for _, s := range all {
		if s <= maxBS {
			out = append(out, s)
		}
	}
	if len(out) == 0 || out[len(out)-1] != maxBS {
		out = append(out, maxBS)
	}
	return out
}

// actPerToken is one token's live activation bytes on a rank: the hidden
// states and the larger of the attention projections and the MLP.
func actPerToken(m *simkit.Model, tp int) int64 {
	h, im := int64(m.Hidden), int64(m.Intermediate)/int64(tp)
	nh, nkv, hd := int64(m.Heads)/int64(tp), int64(max(m.NumKVHeads()/tp, 1)), int64(m.HeadSize())
	return 2 * (2*h + max((2*nh+2*nkv)*hd, 3*im))
}

// kvSize is the KV element size: the model's 2 bytes, or 1 for fp8.
func kvSize(dtype string) int64 {
	switch dtype {
	case "auto", "bf16", "bfloat16":
		return 2
	}
	return 1
}

// kvDTypeName is the torch dtype the KV line prints.
func kvDTypeName(dtype string) string {
	switch dtype {
	case "fp8_e5m2":
		return "torch.float8_e5m2"
	case "fp8_e4m3":
		return "torch.float8_e4m3fn"
	}
	return "torch.bfloat16"
}

// configure resolves the defaults and runs the checks of the main
// process; it returns the ValueError's text or "".
func (p *plan) configure(a *Args, m *simkit.Model, env simkit.Env) string {
	derived := m.MaxPositions
	if derived <= 0 {
		derived = 2048
	}
	switch {
	case a.ContextLength > derived:
		// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/configs/model_config.py#L819-L843
		return fmt.Sprintf("Warning: User-specified context_length (%d) is greater than the derived context_length (%d). This may lead to incorrect model outputs or CUDA errors. Note that the derived context_length may differ from max_position_embeddings in the model's config. To allow overriding this maximum, set the env var SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1", a.ContextLength, derived)
	case a.TP < 1 || a.TP > env.NumGPUs:
		return fmt.Sprintf("tp_size (%d) must be between 1 and the %d visible GPUs.", a.TP, env.NumGPUs) // the simulator's wording
	case m.Heads%a.TP != 0:
		return fmt.Sprintf("Total number of attention heads (%d) must be divisible by tensor parallel size (%d).", m.Heads, a.TP)
	}
	p.ContextLen = a.ContextLength
	if p.ContextLen == 0 {
		p.ContextLen = derived
	}
	gpuMem := float64(env.GPUTotal) / (1 << 20)
	chunk, maxBS := deviceDefaults(gpuMem, a.TP)
	if a.CUDAGraphMaxBS > 0 {
		maxBS = a.CUDAGraphMaxBS
	}
	p.Chunk = a.ChunkedPrefillSize
	if p.Chunk == 0 {
		p.Chunk = chunk
	}
	p.MFS = a.MemFractionStatic
	if p.MFS == 0 {
		p.MFS = defaultMFS(gpuMem, p.Chunk, maxBS, a.TP)
	}
	if !a.DisableCUDAGraph {
		p.CaptureBS = captureBS(maxBS)
	}
	return ""
}
