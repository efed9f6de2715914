package estimate

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Run estimates one engine start: the per-GPU memory breakdown, what the
// engine does with the given (or defaulted) settings, and the largest
// limits that start. It only computes; it never does I/O.
func Run(m Model, hw Hardware, eng Engine, s Settings) (Result, error) {
	if err := validate(m, hw, s); err != nil {
		return Result{}, err
	}
	switch strings.ToLower(eng.Name) {
	case "", "tgi", "text-generation-inference":
	case "vllm":
		return runVLLM(m, hw, eng.Version, s)
	case "sglang":
		return runSGLang(m, hw, eng.Version, s)
	default:
		return Result{}, fmt.Errorf("%w: engine %q (known: tgi, vllm, sglang)", ErrUnsupported, eng.Name)
	}
	ver := eng.Version
	if ver == "" {
		ver = DefaultTGIVersion
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return Result{}, err
	}
	if v.Major < 1 || v.Major > 3 {
		return Result{}, fmt.Errorf("%w: tgi version %s (known: 1.x – 3.3.x)", ErrUnsupported, ver)
	}
	r, err := newTGIRun(m, hw, s, v)
	if err != nil {
		return Result{}, err
	}
	return r.result(Engine{Name: "tgi", Version: ver}), nil
}

func validate(m Model, hw Hardware, s Settings) error {
	var bad []string
	pos := func(name string, v int) {
		if v <= 0 {
			bad = append(bad, fmt.Sprintf("%s must be > 0 (got %d)", name, v))
		}
	}
	nonneg := func(name string, v int) {
		if v < 0 {
			bad = append(bad, fmt.Sprintf("%s must not be negative (got %d)", name, v))
		}
	}
	pos("model num_hidden_layers", m.Layers)
	pos("model hidden_size", m.Hidden)
	pos("model num_attention_heads", m.Heads)
	pos("model vocab_size", m.Vocab)
	nonneg("model num_key_value_heads", m.KVHeads)
	nonneg("model intermediate_size", m.Intermediate)
	pos("gpu count", hw.Count)
	if hw.GPU.TotalBytes <= 0 {
		bad = append(bad, fmt.Sprintf("gpu memory must be > 0 (got %d bytes)", hw.GPU.TotalBytes))
	}
	nonneg("--max-input-tokens", s.MaxInputTokens)
	nonneg("--max-total-tokens", s.MaxTotalTokens)
	nonneg("--max-batch-prefill-tokens", s.MaxBatchPrefillTokens)
	nonneg("--max-batch-size", s.MaxBatchSize)
	nonneg("--num-shard", s.NumShard)
	nonneg("--speculate", s.Speculate)
	nonneg("request input tokens", s.RequestInputTokens)
	nonneg("request output tokens", s.RequestOutputTokens)
	if s.CUDAMemoryFraction < 0 || s.CUDAMemoryFraction > 1 || math.IsNaN(s.CUDAMemoryFraction) {
		bad = append(bad, fmt.Sprintf("--cuda-memory-fraction must be in (0, 1] (got %g)", s.CUDAMemoryFraction))
	}
	if s.WiggleRoom < 0 || s.WiggleRoom >= 1 || math.IsNaN(s.WiggleRoom) {
		bad = append(bad, fmt.Sprintf("TGI_WIGGLE_ROOM must be in (0, 1) (got %g)", s.WiggleRoom))
	}
	bad = append(bad, s.Corrections.validate()...)
	if s.NumShard > 0 && hw.Count > 0 && s.NumShard > hw.Count {
		bad = append(bad, fmt.Sprintf("--num-shard %d needs %d GPUs, only %d given", s.NumShard, s.NumShard, hw.Count))
	}
	if s.MaxInputTokens > 0 && s.MaxTotalTokens > 0 && s.MaxInputTokens >= s.MaxTotalTokens {
		// TGI's launcher rule (v3.3.7:launcher:2157-2164).
		bad = append(bad, fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", s.MaxInputTokens, s.MaxTotalTokens))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// tgiRun holds everything that does not depend on the three token limits,
// so the boundary searches only redo the cheap part.
type tgiRun struct {
	m     Model
	hw    Hardware
	s     Settings
	prof  tgiProfile
	be    tgiBackend
	ws    int
	total Bytes
	mf    float64
	wig   float64

	weights     Bytes
	weightsFrom string
	ctx, nccl   Bytes
	other       Bytes
	kv          kvLayout
	blk         Bytes // bytes per KV block on one shard
	elt         int   // activation element bytes
	headSplit   bool
	defaultP    int // launcher default P in v2.4.1+ (0 when the user gave P)
	// quiet skips messages and log lines during the boundary searches.
	quiet    bool
	warnings []string
}

func newTGIRun(m Model, hw Hardware, s Settings, v Version) (*tgiRun, error) {
	r := &tgiRun{m: m, hw: hw, s: s, prof: tgiProfileFor(v), total: hw.GPU.TotalBytes}
	r.ws = s.NumShard
	if r.ws == 0 {
		r.ws = hw.Count
	}
	r.mf = s.CUDAMemoryFraction
	if r.mf == 0 {
		r.mf = 1.0
	}
	r.wig = r.prof.wiggle
	if c := s.Corrections; c != nil {
		if c.Wiggle > 0 {
			r.wig = c.Wiggle
		}
		r.warn("%s", c.note())
	}
	if s.WiggleRoom > 0 {
		if !v.AtLeast(2, 3, 0) {
			r.warn("TGI_WIGGLE_ROOM is read from v2.3.0 on; ignored for %s", v)
		} else {
			r.wig = s.WiggleRoom
		}
	}
	q := strings.ToLower(s.Quantize)
	if q == "exl2" && r.ws > 1 {
		return nil, fmt.Errorf("%w: Sharding is currently not supported with `exl2` quantization", ErrInvalid)
	}
	switch q {
	case "", "fp8", "eetq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4":
	case "awq", "gptq", "marlin", "exl2", "compressed-tensors":
		if m.QuantMethod == "" {
			r.warn("--quantize %s needs a pre-quantized checkpoint; this one has no quantization_config, weights are counted as stored", q)
		}
	default:
		return nil, fmt.Errorf("%w: --quantize %q (want awq, compressed-tensors, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4 or fp8)", ErrInvalid, s.Quantize)
	}
	computeBits := 16
	switch s.DType {
	case dtypeNo, F16, BF16:
	case F32:
		computeBits = 32
	default:
		return nil, fmt.Errorf("%w: --dtype %s (want float16 or bfloat16)", ErrInvalid, s.DType)
	}
	r.elt = computeBits / 8
	r.be = resolveBackend(r.prof, m, hw, s)
	r.warnings = append(r.warnings, r.be.notes...)

	kvElt := r.elt
	switch s.KVCacheDType {
	case dtypeNo:
	case F8E4M3, F8E5M2:
		// --kv-cache-dtype exists from v2.4.0 and works with flashinfer on
		// CUDA or paged (v3.3.7:server/text_generation_server/layers/attention/kv_cache.py:67-84).
		if !v.AtLeast(2, 4, 0) {
			return nil, fmt.Errorf("%w: --kv-cache-dtype needs TGI 2.4.0 or later (got %s)", ErrInvalid, v)
		}
		if r.be.attention == AttentionFlashDecoding {
			return nil, fmt.Errorf("%w: fp8 KV cache is only supported with flashinfer or paged attention; TGI picked %s", ErrInvalid, r.be.attention)
		}
		kvElt = 1
	case F16, BF16:
		kvElt = 2
	default:
		return nil, fmt.Errorf("%w: --kv-cache-dtype %s (want fp8_e4m3fn or fp8_e5m2)", ErrInvalid, s.KVCacheDType)
	}
	kv, err := tgiKVLayout(m, r.ws, kvElt)
	if err != nil {
		return nil, err
	}
	r.kv = kv
	r.blk = Bytes(r.be.blockSize) * kv.perToken()

	tensors := m.Tensors
	r.weightsFrom = "safetensors"
	if len(tensors) == 0 {
		tensors = SynthesizeTensors(m)
		r.weightsFrom = "config"
	}
	r.weights = weightsPerShard(m, tensors, r.ws, s, computeBits)
	r.headSplit = m.Vocab%r.ws == 0
	r.ctx = CUDAContextBytes + s.ExtraOverheadBytes + s.Corrections.overhead()
	if r.ws > 1 {
		r.nccl = NCCLBytes
	}
	if r.be.attention == AttentionFlashInfer {
		r.other = FlashInferWorkspaceBytes
	}
	if s.MaxBatchPrefillTokens == 0 {
		r.defaultP = r.launcherDefaultP()
	}
	return r, nil
}

func (r *tgiRun) warn(format string, a ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
}

// mpeCapped is the v2 launcher's mpe' = min(max_position_embeddings, 4096),
// 4096 when the config has none (v2.2.0:launcher:1439-1460).
func (r *tgiRun) mpeCapped() int {
	if r.m.MaxPositions > 0 && r.m.MaxPositions < 4096 {
		return r.m.MaxPositions
	}
	return 4096
}

// launcherDefaultP is P when the user gave none, for releases where it does
// not depend on max_input_tokens (v2.4.1+).
func (r *tgiRun) launcherDefaultP() int {
	switch r.prof.defaults {
	case defaultsServerP4096:
		p := 4096
		if r.m.MaxPositions > 0 && r.m.MaxPositions < p {
			p = r.m.MaxPositions
		}
		return p
	case defaultsComputeOptimal:
		return r.computeOptimalP()
	}
	return 0
}

// computeOptimalP follows v3.3.7:launcher:2114-2154.
func (r *tgiRun) computeOptimalP() int {
	def := 4096
	switch r.m.Type {
	case "qwen2_vl", "qwen2_5_vl":
		if r.prof.v.AtLeast(3, 1, 1) {
			def = 10_000
		}
	case "gemma3":
		if r.prof.v.AtLeast(3, 2, 0) {
			def = 8000
		}
	}
	value := def
	if r.m.QuantMethod != "" && !knownLauncherQuant(r.m.QuantMethod) {
		// An unknown quant_method makes RawConfig fail to parse: no config,
		// P = 4096 (ENGINES.md §1.4 pitfall).
		r.warn("TGI's launcher cannot parse quant_method %q: it falls back to --max-batch-prefill-tokens 4096", r.m.QuantMethod)
		return 4096
	}
	if flops, ok := tgiCardFLOPs(r.prof, r.hw.GPU.Name); ok {
		if f, ok2 := tgiFlop(r.m); ok2 && f > 0 {
			if opt := flops * uint64(r.ws) / f; opt > 100 {
				value = int(opt)
			}
		}
	} else if r.hw.GPU.Name != "" {
		r.warn("TGI's launcher does not know card %q (key %s): prefill default falls back to %d", r.hw.GPU.Name, TGICardKey(r.hw.GPU.Name), def)
	}
	if r.m.MaxPositions > 0 && r.m.MaxPositions < value {
		value = r.m.MaxPositions
	}
	if vm, ok := tgiVRAMMaximum(r.m, r.hw, r.ws, r.mf, 0.95); ok && vm < value {
		value = vm
	}
	return value
}

func knownLauncherQuant(q string) bool {
	switch strings.ToLower(q) {
	case "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8":
		return true
	}
	return false
}

// limits resolves the launcher's view of I, T and P from what the user gave
// (0 = not given). In v2.4.1+ I and T may stay 0: the server decides.
func (r *tgiRun) limits(I, T, P int) (int, int, int) {
	switch r.prof.defaults {
	case defaultsStatic:
		// v1.4.0:launcher:209-221.
		if I == 0 {
			I = 1024
		}
		if T == 0 {
			T = 2048
		}
		if P == 0 {
			P = 4096
		}
	case defaultsLauncher4096:
		mpe := r.mpeCapped()
		if I == 0 {
			I = mpe - 1
		}
		if T == 0 {
			T = mpe
		}
		if P == 0 {
			if r.s.MaxBatchSize > 0 {
				P = r.s.MaxBatchSize * I
			} else {
				P = I + 50
			}
		}
	default:
		if P == 0 {
			P = r.defaultP
		}
	}
	return I, T, P
}

// start simulates one TGI start with launcher-resolved limits.
func (r *tgiRun) start(I, T, P int) Startup {
	st := Startup{MaxInputTokens: I, MaxTotalTokens: T, MaxBatchPrefillTokens: P}
	fail := func(kind string, msg func() string) Startup {
		st.Failure, st.Fits = kind, false
		if !r.quiet {
			st.Message = msg()
		}
		return st
	}
	if I > 0 && T > 0 && I >= T {
		return fail(FailureArgumentValidation, func() string { return fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", I, T) })
	}
	if P <= 0 {
		return fail(FailureArgumentValidation, func() string { return "`max_batch_prefill_tokens` must be > 0" })
	}
	if !r.prof.v.AtLeast(2, 4, 0) && P < I {
		// Launcher check before v2.4.0 (v2.2.0:launcher:1504-1516).
		return fail(FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: %d and %d", P, I)
		})
	}
	if T > 0 && I == 0 && P > T && r.prof.v.AtLeast(2, 4, 1) {
		return fail(FailureWarmupOverflow, func() string {
			return fmt.Sprintf("--max-total-tokens %d without --max-input-tokens and a prefill of %d: TGI's warm-up computes max_total_tokens - truncate in u32, which wraps; set --max-input-tokens or --max-batch-prefill-tokens <= %d", T, P, T)
		})
	}
	bs := r.be.blockSize
	spec := r.s.Speculate
	// Warm-up batch (v3.3.7:backends/v3/src/client/grpc_client.rs:109-223):
	// requests of truncate = min(I, P − n) tokens until P is reached.
	chunk := P
	if I > 0 && I < P {
		chunk = I
	}
	full, rem := P/chunk, P%chunk
	reqs := full
	if rem > 0 {
		reqs++
	}
	tokens := P
	if r.s.MaxBatchSize > 0 && reqs > r.s.MaxBatchSize {
		reqs, full, rem = r.s.MaxBatchSize, r.s.MaxBatchSize, 0
		tokens = reqs * chunk
	}
	st.WarmupRequests = reqs
	// KV blocks per warm-up request: ⌈(prompt + max_new_tokens − 1 + s)/BS⌉
	// (v3.3.7:fcl.py:346-357), max_new_tokens = T − truncate, or 1 when T is unset.
	var blocks int64
	if T > 0 {
		perReq := ceilDiv64(int64(T-1+spec), int64(bs))
		if r.prof.windowCapsBlocks && r.m.SlidingWindow > 0 && flashMistralTypes[r.m.Type] {
			// v2.0.x flash_mistral.py caps every request's blocks at
			// ⌈sliding_window/BS⌉ (v2.0.4:server/text_generation_server/models/flash_mistral.py:159-162).
			perReq = min(perReq, ceilDiv64(int64(r.m.SlidingWindow), int64(bs)))
		}
		blocks = int64(reqs) * perReq
	} else {
		blocks = int64(full) * ceilDiv64(int64(chunk+spec), int64(bs))
		if rem > 0 {
			blocks += ceilDiv64(int64(rem+spec), int64(bs))
		}
	}
	allAtPrefill := T > 0 && chunk == T-1 && rem == 0
	kwarm := r.kvTensors(blocks)
	logprobs := r.prof.allLogits || r.s.PrefillLogprobs
	maxS := T
	if maxS == 0 {
		maxS = chunk
	}
	act := prefillPeak(r.m, r.ws, tokens, reqs, maxS, r.elt, r.prof, logprobs, r.headSplit)
	if f := r.s.Corrections.activationFactor(); f != 1 {
		act = Bytes(float64(act) * f)
	}
	base := r.ctx + r.nccl + r.weights + r.other
	torchPart := r.weights + r.other + kwarm + act
	used := r.ctx + r.nccl + torchPart
	capTorch := Bytes(r.mf * float64(r.total))
	st.WarmupBytes, st.WarmupKVBytes, st.ActivationBytes = used, kwarm, act
	st.WarmupTokens = int(blocks) * bs
	st.CapacityBytes = min(r.total, capTorch+r.ctx+r.nccl)
	if base > r.total || r.weights+r.other > capTorch {
		return fail(FailureWeights, func() string {
			return fmt.Sprintf("CUDA out of memory loading the weights: %s of weights per GPU on a %s card", r.weights, r.total)
		})
	}
	if torchPart > capTorch || used > r.total {
		// v3.3.7:fcl.py:1549-1553.
		return fail(FailureWarmupOOM, func() string {
			return fmt.Sprintf("Not enough memory to handle %d prefill tokens. You need to decrease `--max-batch-prefill-tokens`", tokens)
		})
	}
	free := r.total - used
	var extra int64
	if r.prof.wiggleOfTotal {
		// v3: get_free_memory(dev, MF·W) = max(0, free − (1 − MF·W)·Ttot)
		// (v3.3.7:fcl.py:1556, utils/import_utils.py:13-17).
		kvMem := float64(free) - (1-r.mf*r.wig)*float64(r.total)
		if kvMem > 0 {
			extra = int64(kvMem) / int64(r.blk)
		}
	} else {
		// ≤ v2.4: W · max(0, free − (1 − MF)·Ttot) (v2.2.0:fcl.py:1121, v2.4.1:fcl.py:1549-1553).
		kvMem := float64(free) - (1-r.mf)*float64(r.total)
		if kvMem > 0 {
			extra = int64(kvMem*r.wig) / int64(r.blk)
		}
	}
	numBlocks := extra + blocks
	if r.prof.addBackBug && allAtPrefill {
		numBlocks = extra
		if !r.quiet {
			r.warn("TGI %s drops the warm-up KV blocks when every warm-up request ends at prefill (max_input_tokens = max_total_tokens − 1 and a prefill that is a multiple of it): the budget is %d blocks short", r.prof.v, blocks)
		}
	}
	mbt := int(numBlocks) * bs
	st.MaxBatchTotalTokens = mbt
	if !r.quiet && r.prof.defaults >= defaultsComputeOptimal && r.s.MaxBatchPrefillTokens == 0 {
		st.LogLines = append(st.LogLines, fmt.Sprintf("Default `max_batch_prefill_tokens` to %d", P))
	}
	if !r.quiet {
		st.LogLines = append(st.LogLines, fmt.Sprintf("KV-cache blocks: %d, size: %d", numBlocks, bs))
	}
	// T and I decided at warm-up (v3.3.7:fcl.py:1566-1579; v2.4.1 same with chunking opt-in).
	autoT, autoI := T == 0, I == 0
	if T == 0 {
		if r.be.chunking {
			T = mbt
			if r.prof.mpeCapsT && r.m.MaxPositions > 0 && r.m.MaxPositions < T {
				T = r.m.MaxPositions
			}
		} else {
			T = tokens
		}
	}
	if I == 0 {
		I = T - 1
	}
	st.MaxInputTokens, st.MaxTotalTokens = I, T
	if T > mbt {
		if r.prof.notEnoughMemoryIsArgValidation {
			return fail(FailureArgumentValidation, func() string {
				return fmt.Sprintf("`max_total_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", T, mbt)
			})
		}
		return fail(FailureNotEnoughMemory, func() string { return fmt.Sprintf("Not enough memory to handle `max_total_tokens=%d`", T) })
	}
	if !r.quiet {
		st.LogLines = append(st.LogLines, fmt.Sprintf("Setting max batch total tokens to %d", mbt))
		if autoI {
			st.LogLines = append(st.LogLines, fmt.Sprintf("Maximum input tokens defaulted to %d", I))
		}
		if autoT {
			st.LogLines = append(st.LogLines, fmt.Sprintf("Maximum total tokens defaulted to %d", T))
		}
	}
	if I >= T {
		return fail(FailureArgumentValidation, func() string { return fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", I, T) })
	}
	if r.prof.v.AtLeast(2, 4, 0) && P < I && !r.be.chunking {
		// Router check (v3.3.7:backends/v3/src/main.rs:167-196).
		return fail(FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: %d and %d", P, I)
		})
	}
	if P > mbt {
		return fail(FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", P, mbt)
		})
	}
	if !autoT && (int(numBlocks)-1)*bs < T {
		// Block 0 is kept for health checks (v3.3.7:backends/v3/src/block_allocator.rs:152),
		// so the router could never admit one full-length request.
		return fail(FailureCannotServe, func() string {
			return fmt.Sprintf("starts with max_batch_total_tokens=%d, but less block 0 (kept for health checks) that cannot hold one request of max_total_tokens=%d", mbt, T)
		})
	}
	st.Fits = true
	return st
}

// allocRound is the CUDA caching allocator's rounding of large blocks
// (PyTorch c10/cuda/CUDACachingAllocator.cpp, kRoundLarge = 2 MiB): every
// allocation above 1 MiB takes a multiple of 2 MiB.
const allocRound = 2 * MiB

// kvTensors is the device memory of a KV cache of n blocks: TGI allocates
// one K and one V tensor per layer (v3.3.7:server/text_generation_server/
// layers/attention/kv_cache.py:95-133), each rounded by the allocator.
func (r *tgiRun) kvTensors(n int64) Bytes {
	tensors := int64(2 * r.kv.layers)
	if tensors == 0 {
		return Bytes(n) * r.blk
	}
	per := int64(r.blk) / tensors * n
	if per > int64(MiB) {
		per = (per + int64(allocRound) - 1) / int64(allocRound) * int64(allocRound)
	}
	return Bytes(per * tensors)
}

// startWith resolves defaults and starts.
func (r *tgiRun) startWith(I, T, P int) Startup {
	I, T, P = r.limits(I, T, P)
	return r.start(I, T, P)
}

// boundaryT finds the largest T that starts with I = T − 1 and the
// version's default P (the user's P if given). Feasibility is not monotone
// below P + 1: a short T splits the warm-up prefill into ⌈P/(T−1)⌉ requests
// whose logits and sampling buffers grow as T shrinks. Above P + 1 there is
// one request and the warm-up KV only grows with T, so the search starts at
// P + 1 and goes up, or looks below it when that already fails.
func (r *tgiRun) boundaryT() (int, string, Startup) {
	hi := r.m.MaxPositions
	if hi <= 0 {
		hi = 1 << 22
	}
	try := func(t int) Startup { return r.startWith(t-1, t, r.s.MaxBatchPrefillTokens) }
	if st := try(hi); st.Fits {
		return hi, "max_position_embeddings", st
	}
	pivot := 2
	if r.s.MaxBatchPrefillTokens > 0 || r.prof.defaults >= defaultsServerP4096 {
		_, _, p := r.limits(0, 0, r.s.MaxBatchPrefillTokens)
		pivot = min(max(p+1, 2), hi-1)
	}
	lo := -1
	var first Startup
	if first = try(pivot); first.Fits {
		lo = pivot
	} else {
		for t := pivot / 2; t >= 2; t /= 2 {
			if try(t).Fits {
				lo, hi = t, min(2*t, pivot)
				break
			}
		}
	}
	if lo < 0 {
		lim := "warmup"
		if first.Failure == FailureWeights {
			lim = "weights"
		}
		return 0, lim, first
	}
	// try(lo) fits, try(hi) does not.
	lo = bisect(func(t int) bool { return try(t).Fits }, lo, hi)
	lim := "warmup"
	switch try(lo + 1).Failure {
	case FailureNotEnoughMemory, FailureCannotServe:
		lim = "kv_budget"
	case FailureArgumentValidation:
		lim = "prefill"
	}
	return lo, lim, try(lo)
}

// boundaryP finds the largest P that starts with the given I and T. It is
// not monotone either: a tiny P means one warm-up request, whose KV blocks
// (added back to the pool) may fall short of T when little is left after the
// reserve, while more requests reserve more blocks that count in the budget.
// So it starts from a P that starts and grows from there.
func (r *tgiRun) boundaryP(I, T int) int {
	try := func(p int) bool { return r.startWith(I, T, p).Fits }
	_, _, def := r.limits(I, T, r.s.MaxBatchPrefillTokens)
	return largestFrom(try, 1<<22, def, T+1, T, I, 2*I, def/2, def/4, 1)
}

// concurrency is how many requests of in+out tokens fit in a budget of
// mbt tokens: block 0 is reserved for health checks
// (v3.3.7:backends/v3/src/block_allocator.rs:152).
func (r *tgiRun) concurrency(mbt, in, out int) int {
	bs := r.be.blockSize
	tokens := in + out
	// Before v3.2.1 the router capped each request at the sliding window
	// (v2.0.0:router/src/queue.rs:246-251; v3.0.0 block_allocator.rs:165-169
	// with prefix caching off).
	if r.m.SlidingWindow > 0 && (!r.prof.v.AtLeast(3, 0, 0) || (!r.prof.v.AtLeast(3, 2, 1) && !r.be.prefixCaching)) {
		tokens = min(tokens, r.m.SlidingWindow)
	}
	per := int(ceilDiv64(int64(tokens), int64(bs)))
	blocks := mbt/bs - 1
	if per <= 0 || blocks <= 0 {
		return 0
	}
	return blocks / per
}

func (r *tgiRun) result(eng Engine) Result {
	res := Result{
		Engine:          eng,
		NumShard:        r.ws,
		KVBytesPerToken: r.kv.perToken(),
		BlockSize:       r.be.blockSize,
		Attention:       r.be.attention,
		PrefixCaching:   r.be.prefixCaching,
		Chunking:        r.be.chunking,
		WeightsFrom:     r.weightsFrom,
	}
	if (r.m.SlidingWindow > 0 && (r.m.MaxPositions == 0 || r.m.SlidingWindow < r.m.MaxPositions)) || len(r.m.LayerTypes) > 0 {
		r.warn("TGI allocates full-length KV for every layer, sliding-window layers included (v3.3.7:server/text_generation_server/models/model.py:113)")
	}
	if r.m.IsMLA() {
		r.warn("TGI stores full per-head K/V for MLA (head size %d × %d heads), not the compressed latent vLLM and SGLang keep", r.kv.headSize, r.m.KVHeadCount())
	}
	s := r.s
	st := r.startWith(s.MaxInputTokens, s.MaxTotalTokens, s.MaxBatchPrefillTokens)
	res.Startup = st
	res.PerGPU = r.breakdown(st)

	r.quiet = true
	bT, lim, bst := r.boundaryT()
	if bT == 0 && lim != "weights" && s.MaxBatchPrefillTokens == 0 && r.prof.defaults >= defaultsServerP4096 {
		// The release's own prefill default does not start: find the
		// largest prefill that does (I and T left to TGI), then the largest
		// T with half of it, leaving the other half of that headroom to KV.
		if bp := r.boundaryP(0, 0); bp > 1 {
			p := min(4096, bp/2)
			r.s.MaxBatchPrefillTokens = p
			bT, lim, bst = r.boundaryT()
			r.s.MaxBatchPrefillTokens = 0
			if bT > 0 {
				r.warn("TGI's default --max-batch-prefill-tokens %d does not start here; the boundary uses --max-batch-prefill-tokens %d", r.defaultP, p)
			}
		}
	}
	b := Boundary{MaxTotalTokens: bT, LimitedBy: lim, PrefillAtMaxTotal: bst.MaxBatchPrefillTokens}
	if bT > 0 {
		b.MaxInputTokens = bT - 1
		b.MaxBatchTotalTokens = bst.MaxBatchTotalTokens
	}
	// The largest prefill with the started I/T (or the boundary's when the
	// given ones do not start).
	pi, pt := st.MaxInputTokens, st.MaxTotalTokens
	if s.MaxInputTokens == 0 && s.MaxTotalTokens == 0 && r.prof.defaults >= defaultsServerP4096 {
		pi, pt = 0, 0
	}
	if !st.Fits && bT > 0 {
		pi, pt = bT-1, bT
	}
	b.MaxBatchPrefillTokens = r.boundaryP(pi, pt)
	r.quiet = false
	// Concurrency for the request shape asked for, or full-length requests
	// of each configuration's own max_total_tokens.
	shape := func(I, T int) (int, int) {
		if s.RequestInputTokens > 0 || s.RequestOutputTokens > 0 {
			return s.RequestInputTokens, s.RequestOutputTokens
		}
		return I, T - I
	}
	if bT > 0 {
		in, out := shape(bT-1, bT)
		b.MaxConcurrentRequests = r.concurrency(b.MaxBatchTotalTokens, in, out)
	}
	if st.Fits {
		in, out := shape(st.MaxInputTokens, st.MaxTotalTokens)
		res.Startup.MaxConcurrentRequests = r.concurrency(st.MaxBatchTotalTokens, in, out)
	}
	res.Boundary = b
	res.Warnings = r.warnings
	return res
}

// breakdown is the per-GPU picture after a start (or at the failed warm-up).
func (r *tgiRun) breakdown(st Startup) Breakdown {
	b := Breakdown{Weights: r.weights, CUDAContext: r.ctx, NCCL: r.nccl, Other: r.other}
	b.ActivationPeak = st.ActivationBytes
	if st.MaxBatchTotalTokens > 0 {
		b.KVCache = Bytes(st.MaxBatchTotalTokens/r.be.blockSize) * r.blk
	}
	if r.prof.cudaGraphs && st.Fits {
		b.CUDAGraphs = r.cudaGraphBytes(st.MaxTotalTokens)
	}
	used := b.Weights + b.KVCache + b.Overhead() + b.CUDAGraphs
	if used < r.total {
		b.Reserve = r.total - used
	}
	return b
}

// cudaGraphBytes estimates the shared pool of the decode graphs for batch
// sizes up to 32, captured largest first (v3.3.7:globals.py:30,60-61;
// ENGINES.md §2.2, derived): decode activations and logits for 32 rows and
// v3's [32, T] int32 block tables.
func (r *tgiRun) cudaGraphBytes(T int) Bytes {
	const bs = 32
	h := int64(r.m.Hidden)
	act := int64(bs) * (2*h + 4*int64(max(r.m.Intermediate, r.m.ExpertWidth()*max(1, r.m.ExpertsPerToken)))/int64(r.ws)) * int64(r.elt)
	logits := int64(bs) * int64(r.m.Vocab) * 4
	tables := int64(0)
	if r.prof.v.AtLeast(3, 0, 0) {
		tables = int64(bs) * int64(T) * 4
	}
	return Bytes(act + logits + tables)
}

// IsInvalid reports whether err comes from input the engine would reject.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
