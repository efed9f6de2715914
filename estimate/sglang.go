package estimate

import (
	"fmt"
	"math"
	"strings"
)

// SGLang citations: "sglang@<commit> path" is an upstream commit read from
// the public code index, "sglang#N" a github.com/sgl-project/sglang pull
// request; ENGINES.md §7 and REVIEW-VLLM §7 are the shared spec and review.

// DefaultSGLangVersion is the release assumed when none is given: v0.5.5, a
// late-2025 release that sizes --mem-fraction-static with the reserve
// formula of sglang#10975 (merged October 2025) and the post-#10975 chunked
// prefill buckets (REVIEW-VLLM §7).
const DefaultSGLangVersion = "0.5.5"

// SGLang runtime terms: device memory in use before the weights load, which
// SGLang's "total" (the free memory after distributed init) leaves out.
const (
	// sglangPreLoadEarly, sglangPreLoadMid and sglangPreLoad are the CUDA
	// context and cuBLAS init of one rank: SGLang logs "Load weight begin.
	// avail mem=78.81 GB" on a 79.18 GiB H100 at TP 1 in January 2025 builds
	// (0.37 GiB used), 1.75 GiB used at TP 8 in September 2025 of which "Init
	// torch distributed ends. mem usage=1.25 GB" (0.50 GiB context), and
	// 78.43–78.48 GB at TP 1 in 2026 builds (0.72 GiB) (SGLang CI and issue
	// logs in the public code index).
	sglangPreLoadEarly = 379 * MiB
	sglangPreLoadMid   = 512 * MiB
	sglangPreLoad      = 737 * MiB
	// sglangDistInit is the distributed init at TP ≥ 2 on NVSwitch boards
	// (NCCL with NVLink SHARP buffers, custom all-reduce): the 1.25 GB of
	// that September 2025 TP-8 log. Elsewhere vllmCommPlain.
	sglangDistInit = 1280 * MiB
)

// sglangEra is how a release defaults --mem-fraction-static.
type sglangEra int

const (
	// By TP size (sglang@… server_args.py __post_init__, ≤ v0.4.7):
	// tp ≥ 16: 0.79, ≥ 8: 0.81, ≥ 4: 0.85, ≥ 2: 0.87, else 0.88
	// (REVIEW-VLLM §7b; some older builds used 0.83 at tp ≥ 8).
	sglangEraTP sglangEra = iota
	// By GPU memory (sglang#7054, merged June 2025, ≈ v0.4.8): reserved =
	// 2.8 + tp/10 GiB below 35 GiB, 9.5 + tp/2 below 90 GiB, 12 + tp/2
	// below 160 GiB, else 32 GiB; mfs = round((mem − reserved)/mem, 3).
	sglangEraBuckets
	// Reserve formula (sglang#10975, merged October 2025, ≈ v0.5.4): in MiB,
	// 512 + max(chunked_prefill_size, 2048)·1.5 + cuda_graph_max_bs·2 +
	// tp·pp/8·1024, at least 10 GiB on cards above 60 GiB
	// (sglang server_args.py _handle_gpu_memory_settings).
	sglangEraReserve
)

type sglangRun struct {
	m   Model
	hw  Hardware
	s   Settings
	v   Version
	era sglangEra
	tp  int

	total    Bytes
	gpuMiB   int
	mfs      float64
	chunk    int
	graphBS  int
	ctxLen   int
	page     int
	cell     Bytes
	kvElt    int
	elt      int64
	weights  Bytes
	preLoad  Bytes // CUDA context before the weights
	comm     Bytes // distributed init at TP ≥ 2
	warnings []string
}

func (r *sglangRun) warn(format string, a ...any) {
	if len(a) == 0 {
		r.warnings = append(r.warnings, format)
		return
	}
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
}

// sglangSizer is SGLang's sizer (engine.go).
type sglangSizer struct{}

func (sglangSizer) info() EngineInfo {
	return EngineInfo{Name: "sglang", Title: "SGLang", DefaultVersion: DefaultSGLangVersion, Oldest: "0.1.0", Newest: "0.5.x"}
}

func (sglangSizer) kvBytesPerToken(m Model, ws, elt int) (Bytes, error) {
	return servingKVBytesPerToken(m, ws, elt), nil
}

func (z sglangSizer) run(m Model, hw Hardware, ver string, s Settings) (Result, error) {
	v, err := parseRelease(z.info(), ver)
	if err != nil {
		return Result{}, err
	}
	tp, err := servingTP(m, hw, s)
	if err != nil {
		return Result{}, err
	}
	elt, kvElt, err := servingDTypes(s)
	if err != nil {
		return Result{}, err
	}
	r := &sglangRun{m: m, hw: hw, s: s, v: v, tp: tp, total: hw.GPU.TotalBytes, elt: elt, kvElt: kvElt}
	switch {
	case v.AtLeast(0, 5, 4):
		r.era = sglangEraReserve
	case v.AtLeast(0, 4, 8):
		r.era = sglangEraBuckets
	default:
		r.era = sglangEraTP
	}
	r.gpuMiB = hw.GPU.SMITotalMiB
	if r.gpuMiB == 0 {
		r.gpuMiB = int(hw.GPU.TotalBytes / MiB)
	}
	r.resolveDefaults()
	r.cell = servingKVBytesPerToken(m, tp, kvElt)
	r.page = max(s.BlockSize, 1)
	r.ctxLen = s.MaxModelLen
	if r.ctxLen == 0 {
		r.ctxLen = s.MaxTotalTokens
	}
	if r.ctxLen == 0 {
		r.ctxLen = m.MaxPositions
	}
	tensors := m.checkpointTensors()
	r.weights = servingWeights(m, tensors, tp, s, int(elt*8))
	switch {
	case !v.AtLeast(0, 4, 2):
		r.preLoad = sglangPreLoadEarly
	case !v.AtLeast(0, 5, 5):
		r.preLoad = sglangPreLoadMid
	default:
		r.preLoad = sglangPreLoad
	}
	if tp > 1 {
		r.comm = vllmCommPlain
		if nvlsBoard(hw.GPU) {
			r.comm = sglangDistInit
		}
		r.warn("SGLang's total is the free memory after distributed init; at TP %d NCCL and all-reduce buffers take %s per GPU here (interconnect-dependent)", tp, r.comm)
	}
	return r.result(Engine{Name: "sglang", Version: ver}), nil
}

// resolveDefaults fills chunked_prefill_size, cuda_graph_max_bs and
// mem_fraction_static for the release and card (gpu_mem is nvidia-smi's
// memory.total in MiB, the minimum over visible GPUs).
func (r *sglangRun) resolveDefaults() {
	mem := r.gpuMiB
	g := float64(mem)
	tp := r.tp
	switch r.era {
	case sglangEraReserve:
		// Post-#10975 buckets (REVIEW-VLLM §7c): chunked prefill and
		// cuda_graph_max_bs (tp < 4 / tp ≥ 4).
		chunk, bs := 16384, 512
		small := tp < 4
		pick := func(a, b int) int {
			if small {
				return a
			}
			return b
		}
		switch {
		case mem < 20*1024:
			chunk, bs = 2048, 8
		case mem < 35*1024:
			chunk, bs = 2048, pick(24, 80)
		case mem < 60*1024:
			chunk, bs = 4096, pick(32, 160)
		case mem < 160*1024:
			chunk, bs = 8192, pick(256, 512)
		}
		r.chunk, r.graphBS = chunk, bs
	case sglangEraBuckets:
		r.chunk, r.graphBS = 16384, 160
		switch {
		case mem < 35*1024:
			r.chunk = 2048
		case mem < 160*1024:
			r.chunk = 8192
		}
	default:
		r.chunk, r.graphBS = 8192, 160
		if mem < 25000 {
			r.chunk = 2048
		}
	}
	if r.s.ChunkedPrefillSize > 0 {
		r.chunk = r.s.ChunkedPrefillSize
	}
	r.mfs = r.s.MemFractionStatic
	if r.mfs > 0 {
		return
	}
	switch r.era {
	case sglangEraReserve:
		reserved := 512 + float64(max(r.chunk, 2048))*1.5 + float64(r.graphBS)*2 + float64(tp)/8*1024
		if mem > 60*1024 {
			reserved = math.Max(reserved, 10*1024)
		}
		r.mfs = math.Round((g-reserved)/g*1000) / 1000
	case sglangEraBuckets:
		var reservedGiB float64
		switch {
		case mem < 35*1024:
			reservedGiB = 2.8 + float64(tp)/10
		case mem < 90*1024:
			reservedGiB = 9.5 + float64(tp)/2
		case mem < 160*1024:
			reservedGiB = 12 + float64(tp)/2
		default:
			reservedGiB = 32
		}
		r.mfs = math.Round((g-reservedGiB*1024)/g*1000) / 1000
	default:
		switch {
		case tp >= 16:
			r.mfs = 0.79
		case tp >= 8:
			r.mfs = 0.81
		case tp >= 4:
			r.mfs = 0.85
		case tp >= 2:
			r.mfs = 0.87
		default:
			r.mfs = 0.88
		}
	}
	if r.m.Vision {
		r.warn("SGLang lowers the default --mem-fraction-static for vision models (adjust_mem_fraction_for_vlm); not modelled")
	}
}

// maxTotalTokens follows profile_max_num_token (sglang@01cc04e
// python/sglang/srt/model_executor/model_runner.py): total = free GiB before
// the weights (min over ranks), available = free GiB after them, rest =
// available − total·(1 − mfs), tokens = int(rest·2^30 // cell); then page
// rounding (init_memory_pool). SGLang's own --max-total-tokens caps the
// profiled value before the page rounding; a cap above it is ignored with a
// warning (init_memory_pool: "max_total_tokens=N is larger than the
// profiled value M. Use the profiled value instead.").
func (r *sglangRun) maxTotalTokens() (int, float64, float64) {
	totalGiB := (r.total - r.preLoad - r.comm).GiBs()
	availGiB := (r.total - r.preLoad - r.comm - r.weights).GiBs()
	rest := availGiB - totalGiB*(1-r.mfs)
	tokens := int(math.Floor(rest * float64(GiB) / float64(r.cell)))
	if c := r.s.SGLangMaxTotalTokens; c > 0 {
		if c > tokens {
			r.warn("max_total_tokens=%d is larger than the profiled value %d. Use the profiled value instead.", c, tokens)
		}
		tokens = min(tokens, c)
	}
	tokens = tokens / r.page * r.page
	return tokens, totalGiB, availGiB
}

func (r *sglangRun) result(eng Engine) Result {
	res := Result{
		Engine:          eng,
		NumShard:        r.tp,
		KVBytesPerToken: r.cell,
		BlockSize:       r.page,
		Attention:       r.attention(),
		PrefixCaching:   true,
		Chunking:        r.chunk > 0,
		WeightsFrom:     r.m.weightsSource(),
	}
	tokens, totalGiB, availGiB := r.maxTotalTokens()
	st := Startup{
		MaxInputTokens:        r.ctxLen - 1,
		MaxTotalTokens:        r.ctxLen,
		MaxBatchPrefillTokens: r.chunk,
		CapacityBytes:         Bytes(r.mfs * totalGiB * float64(GiB)),
		WarmupBytes:           r.preLoad + r.comm + r.weights,
	}
	act := Bytes(servingForwardBytes(r.m, r.tp, int64(r.chunk), r.elt, 3))
	st.ActivationBytes = act
	graphs := Bytes(r.graphBS) * 2 * MiB
	switch {
	case r.m.MaxPositions > 0 && r.ctxLen > r.m.MaxPositions:
		st.Failure = FailureArgumentValidation
		st.Message = fmt.Sprintf("User-specified context_length (%d) is greater than the derived context_length (%d). This may lead to incorrect model outputs or CUDA errors.", r.ctxLen, r.m.MaxPositions)
	case r.weights+r.preLoad+r.comm > r.total:
		st.Failure = FailureWeights
		st.Message = fmt.Sprintf("torch.OutOfMemoryError: CUDA out of memory while loading the weights (%s per GPU on a %s card)", r.weights, r.total)
	case tokens <= 0:
		st.Failure = FailureNotEnoughMemory
		st.Message = "Not enough memory. Please try to increase --mem-fraction-static."
	}
	st.Fits = st.Failure == ""
	kvBytes := Bytes(0)
	if st.Fits {
		st.MaxBatchTotalTokens = tokens
		kvBytes = Bytes(tokens) * r.cell
		maxReqs := min(max(int(float64(tokens)/float64(max(r.ctxLen, 1))*512), 2048), 4096)
		running := min(tokens/2, maxReqs)
		if r.s.MaxNumSeqs > 0 {
			running = r.s.MaxNumSeqs
		}
		if per := requestShape(r.s, r.ctxLen); per > 0 {
			st.MaxConcurrentRequests = min(tokens/per, running)
		}
		st.LogLines = append(st.LogLines,
			fmt.Sprintf("Load weight end. type=%s, dtype=%s, avail mem=%.2f GB, mem usage=%.2f GB.", r.m.Type, r.dtypeName(), availGiB, r.weights.GiBs()))
		if r.m.IsMLA() {
			st.LogLines = append(st.LogLines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, KV size: %.2f GB", tokens, kvBytes.GiBs()))
		} else {
			half := kvBytes / 2
			st.LogLines = append(st.LogLines, fmt.Sprintf("KV Cache is allocated. #tokens: %d, K size: %.2f GB, V size: %.2f GB", tokens, half.GiBs(), half.GiBs()))
		}
		st.LogLines = append(st.LogLines, fmt.Sprintf("max_total_num_tokens=%d, chunked_prefill_size=%d, max_prefill_tokens=%d, max_running_requests=%d, context_len=%d",
			tokens, r.chunk, 16384, running, r.ctxLen))
		if tokens < r.ctxLen {
			r.warn("the KV pool (%d tokens) is shorter than context_len %d: SGLang starts but caps each request's input at %d tokens", tokens, r.ctxLen, tokens-1)
		}
	}
	res.Startup = st
	b := Breakdown{Weights: r.weights, KVCache: kvBytes, CUDAContext: r.preLoad, NCCL: r.comm, ActivationPeak: act}
	if st.Fits {
		b.CUDAGraphs = graphs
	}
	b.Reserve = b.unallocated(r.total)
	res.PerGPU = b
	bd := Boundary{MaxBatchPrefillTokens: r.chunk, PrefillAtMaxTotal: r.chunk}
	switch {
	case !st.Fits && st.Failure != FailureArgumentValidation:
		bd.LimitedBy = "weights"
		if st.Failure == FailureNotEnoughMemory {
			bd.LimitedBy = "kv_budget"
		}
	default:
		bd.MaxBatchTotalTokens = tokens
		bd.MaxTotalTokens, bd.LimitedBy = r.m.MaxPositions, "max_position_embeddings"
		if bd.MaxTotalTokens == 0 || tokens < bd.MaxTotalTokens {
			bd.MaxTotalTokens, bd.LimitedBy = tokens, "kv_budget"
		}
		bd.MaxInputTokens = bd.MaxTotalTokens - 1
		if per := requestShape(r.s, bd.MaxTotalTokens); per > 0 {
			bd.MaxConcurrentRequests = tokens / per
		}
	}
	res.Boundary = bd
	res.Assumptions = append(res.Assumptions, "the boundary is the largest --context-length whose one request fits the KV pool; its input plus output may use all of it")
	res.Warnings = r.warnings
	return res
}

func (r *sglangRun) dtypeName() string {
	switch {
	case r.s.DType == F16:
		return "torch.float16"
	case r.s.DType == F32:
		return "torch.float32"
	case r.s.DType == BF16 || r.m.DType == BF16 || r.m.DType == "":
		return "torch.bfloat16"
	}
	return "torch.float16"
}

// attention is SGLang's default backend: FlashAttention-3 on Hopper, FlashMLA
// for MLA there, FlashInfer elsewhere (server_args.py attention backend defaults).
func (r *sglangRun) attention() string {
	cc := r.hw.GPU.ComputeCapability
	switch {
	case r.s.Attention != "":
		return strings.ToLower(r.s.Attention)
	case r.m.IsMLA() && cc >= 90:
		return "flashmla"
	case cc >= 90 && r.v.AtLeast(0, 4, 6):
		return "fa3"
	case cc > 0 && cc < 80:
		return "triton"
	}
	return "flashinfer"
}
