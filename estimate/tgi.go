package estimate

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// TGI source citations are pinned URLs into
// github.com/huggingface/text-generation-inference: a release tag, a path and
// a line anchor.

// DefaultTGIVersion is the release assumed when none is given: the last tag
// of the repo (v3.3.7, 2025-12-18; the repo is in maintenance mode).
const DefaultTGIVersion = "3.3.7"

// tgiSizer is TGI's sizer (engine.go).
type tgiSizer struct{}

func (tgiSizer) info() EngineInfo {
	return EngineInfo{Name: "tgi", Title: "TGI", DefaultVersion: DefaultTGIVersion, Oldest: "1.0.0", Newest: "3.3.x"}
}

func (z tgiSizer) run(m Model, hw Hardware, ver string, s Settings) (Result, error) {
	v, err := parseRelease(z.info(), ver)
	if err != nil {
		return Result{}, err
	}
	r, err := newTGIRun(m, hw, s, v)
	if err != nil {
		return Result{}, err
	}
	return r.result(Engine{Name: "tgi", Version: ver}), nil
}

func (tgiSizer) kvBytesPerToken(m Model, ws, elt int) (Bytes, error) {
	k, err := tgiKVLayout(m, ws, elt)
	if err != nil {
		return 0, err
	}
	return k.perToken(), nil
}

// tgiDefaults is how a TGI release fills in limits the user did not give.
type tgiDefaults int

const (
	// ≤ v1.4.x: clap static defaults 1024 / 2048 / 4096
	// (https://github.com/huggingface/text-generation-inference/blob/v1.4.0/launcher/src/main.rs#L209-L221, https://github.com/huggingface/text-generation-inference/blob/v1.4.0/launcher/src/main.rs#L239-L240).
	defaultsStatic tgiDefaults = iota
	// v2.0.0 – v2.4.0: I = mpe'−1, T = mpe', P = I+50 with mpe' = min(mpe, 4096)
	// (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/launcher/src/main.rs#L1439-L1496; https://github.com/huggingface/text-generation-inference/blob/v2.4.0/launcher/src/main.rs#L1708-L1734).
	defaultsLauncher4096
	// v2.4.1: P = min(4096, mpe); I and T decided by the server at warm-up
	// (https://github.com/huggingface/text-generation-inference/blob/v2.4.1/launcher/src/main.rs#L1737, commit 0c9b6cdd #2673).
	defaultsServerP4096
	// v3.x: P from compute_optimal / vram_maximum; I and T decided at warm-up
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2114-L2154).
	defaultsComputeOptimal
)

// tgiProfile holds the sizing behaviour of one TGI release.
type tgiProfile struct {
	v Version
	// wiggle is TGI_WIGGLE_ROOM's default.
	wiggle float64
	// wiggleOfTotal: v3 leaves (1 − MF·W)·Ttot outside the pool
	// (https://github.com/huggingface/text-generation-inference/blob/v3.0.0/server/text_generation_server/models/flash_causal_lm.py#L1584, commit a04356fb #2808); before, the pool gets W·free.
	wiggleOfTotal bool
	defaults      tgiDefaults
	// allLogits: the warm-up computes logits for every prefill token
	// (prefill_logprobs always true up to v2.4.1; v3 only with
	// REQUEST_LOGPROBS=1, https://github.com/huggingface/text-generation-inference/blob/v3.0.0/server/text_generation_server/models/globals.py#L8, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L285-L286).
	allLogits bool
	// logSoftmaxCopy: log_softmax allocates a second [P, V] tensor up to
	// v2.3.1 (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/server/text_generation_server/models/flash_causal_lm.py#L1504); in place from v2.4.0 (#2661, https://github.com/huggingface/text-generation-inference/blob/v2.4.1/server/text_generation_server/models/flash_causal_lm.py#L2089-L2091).
	logSoftmaxCopy bool
	// addBackBug: v2.1.0 – v2.4.0 drop the warm-up blocks when every warm-up
	// request finishes at prefill (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/server/text_generation_server/models/flash_causal_lm.py#L1117 `batch_num_blocks =
	// batch.num_blocks if batch is not None else 0`).
	addBackBug bool
	// backends: v2.3.0+ resolves ATTENTION (flashinfer default) in the
	// launcher (https://github.com/huggingface/text-generation-inference/blob/v2.3.0/launcher/src/main.rs#L69-L114); earlier releases use paged blocks of
	// 16, or 256 with FLASH_DECODING (https://github.com/huggingface/text-generation-inference/blob/v2.1.1/server/text_generation_server/models/globals.py#L8-L9).
	backends bool
	// pagedFallback: v2.3.1+ falls back to paged below compute capability 8.0
	// (https://github.com/huggingface/text-generation-inference/blob/v2.3.1/launcher/src/main.rs#L85-L87); v2.3.0 always to flashdecoding.
	pagedFallback bool
	// mpeCapsT: with T unset the server caps T at max_position_embeddings
	// from v3.0.1 (https://github.com/huggingface/text-generation-inference/blob/v3.0.1/server/text_generation_server/models/flash_causal_lm.py#L1598-L1601, #2817).
	mpeCapsT bool
	// chunkingDefault: prefill chunking is on by default in v3
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L15,
	// turned off with speculation or attention other than flashinfer and
	// flashdecoding at https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/model.py#L73-L95);
	// opt-in in v2.4.x (https://github.com/huggingface/text-generation-inference/blob/v2.4.0/server/text_generation_server/models/globals.py#L14 "0").
	chunkingDefault bool
	// cudaGraphs: decode CUDA graphs are captured by default from v2.0.0
	// (PR #1703, sizes [1, 2, 4, 8, 16, 32],
	// https://github.com/huggingface/text-generation-inference/blob/v2.0.0/launcher/src/main.rs#L1374-L1393). v1.4.1 – v1.4.5 have them
	// (PR #1428) but only behind ENABLE_CUDA_GRAPHS, default false
	// (https://github.com/huggingface/text-generation-inference/blob/v1.4.1/server/text_generation_server/models/globals.py#L6,
	// https://github.com/huggingface/text-generation-inference/blob/v1.4.1/server/text_generation_server/models/flash_causal_lm.py#L796-L800),
	// which is not modelled. Some --quantize values turn them off
	// (tgiQuantizeDisablesGraphs).
	cudaGraphs bool
	// cards is the launcher's card table size era: v3.0.0 has 9 keys, later 15.
	cardsV30 bool
	// windowCapsBlocks: v2.0.x's flash_mistral.py batches cap each request's
	// KV blocks at the sliding window (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_mistral.py#L159-L162);
	// v2.1.0 moved windowing into flash_causal_lm.py
	// (https://github.com/huggingface/text-generation-inference/blob/v2.1.0/server/text_generation_server/models/flash_causal_lm.py#L52-L62),
	// and its flash_mistral.py no longer caps the blocks.
	windowCapsBlocks bool
	// notEnoughMemoryIsArgValidation: v2.0.x reports T > budget as ArgumentValidation
	// (https://github.com/huggingface/text-generation-inference/blob/v2.0.0/router/src/main.rs#L312-L348); v2.1.0+ as NotEnoughMemory.
	notEnoughMemoryIsArgValidation bool
}

func tgiProfileFor(v Version) tgiProfile {
	p := tgiProfile{v: v}
	switch {
	case !v.AtLeast(1, 4, 1):
		// ≤ v1.4.0: no wiggle factor (https://github.com/huggingface/text-generation-inference/blob/v1.4.0/server/text_generation_server/models/flash_causal_lm.py#L711-L719).
		p.wiggle = 1.0
	case !v.AtLeast(2, 3, 0):
		// v1.4.1 – v2.2.0: 0.95 hard-coded (https://github.com/huggingface/text-generation-inference/blob/v1.4.1/server/text_generation_server/models/flash_causal_lm.py#L778, https://github.com/huggingface/text-generation-inference/blob/v2.2.0/server/text_generation_server/models/flash_causal_lm.py#L1121).
		p.wiggle = 0.95
	case !v.AtLeast(2, 4, 0):
		// v2.3.x: TGI_WIGGLE_ROOM default 0.95 (https://github.com/huggingface/text-generation-inference/blob/v2.3.0/server/text_generation_server/models/globals.py#L21).
		p.wiggle = 0.95
	case !v.AtLeast(3, 0, 0):
		// v2.4.x: 0.90 (https://github.com/huggingface/text-generation-inference/blob/v2.4.0/server/text_generation_server/models/globals.py#L26, a6a0c97e #2600).
		p.wiggle = 0.90
	case !v.AtLeast(3, 1, 0):
		// v3.0.x: 0.95 as a fraction of total (https://github.com/huggingface/text-generation-inference/blob/v3.0.0/server/text_generation_server/models/globals.py#L27).
		p.wiggle = 0.95
	case !v.AtLeast(3, 3, 0):
		// v3.1.0 – v3.2.3: 0.93 (eb3df0f4 #2958, https://github.com/huggingface/text-generation-inference/blob/v3.1.0/server/text_generation_server/models/globals.py#L31).
		p.wiggle = 0.93
	default:
		// v3.3.0+: 0.90 (39cfe232 #3189, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L32).
		p.wiggle = 0.90
	}
	p.wiggleOfTotal = v.AtLeast(3, 0, 0)
	switch {
	case !v.AtLeast(2, 0, 0):
		p.defaults = defaultsStatic
	case !v.AtLeast(2, 4, 1):
		p.defaults = defaultsLauncher4096
	case !v.AtLeast(3, 0, 0):
		p.defaults = defaultsServerP4096
	default:
		p.defaults = defaultsComputeOptimal
	}
	p.allLogits = !v.AtLeast(3, 0, 0)
	p.logSoftmaxCopy = !v.AtLeast(2, 4, 0)
	p.addBackBug = v.AtLeast(2, 1, 0) && !v.AtLeast(2, 4, 1)
	p.backends = v.AtLeast(2, 3, 0)
	p.pagedFallback = v.AtLeast(2, 3, 1)
	p.mpeCapsT = v.AtLeast(3, 0, 1)
	p.chunkingDefault = v.AtLeast(3, 0, 0)
	p.cudaGraphs = v.AtLeast(2, 0, 0)
	p.cardsV30 = v.Major == 3 && v.Minor == 0 && v.Patch == 0
	p.notEnoughMemoryIsArgValidation = !v.AtLeast(2, 1, 0)
	p.windowCapsBlocks = v.AtLeast(2, 0, 0) && !v.AtLeast(2, 1, 0)
	return p
}

// TGIWiggle is the TGI_WIGGLE_ROOM default of a release and how it applies:
// ofTotal is true from v3.0.0, where (1 − MF·W)·total stays outside the KV
// pool (so a per-GPU overhead and the wiggle move the budget alike on one
// card), false before, where the pool gets W·(free − (1 − MF)·total).
// Empty means DefaultTGIVersion.
func TGIWiggle(version string) (wiggle float64, ofTotal bool, err error) {
	if version == "" {
		version = DefaultTGIVersion
	}
	v, err := ParseVersion(version)
	if err != nil {
		return 0, false, err
	}
	p := tgiProfileFor(v)
	return p.wiggle, p.wiggleOfTotal, nil
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
	// capTorch is what the caching allocator may hold: cuda_memory_fraction × total.
	capTorch Bytes
	wig      float64

	weights    Bytes
	ctx, nccl  Bytes
	other      Bytes
	kv         kvLayout
	blk        Bytes // bytes per KV block on one shard
	elt        int   // activation element bytes
	layerBytes int64 // activation bytes per prefill token (tgiLayerBytes)
	headSplit  bool
	defaultP   int // launcher default P in v2.4.1+ (0 when the user gave P)
	// quiet skips messages and log lines during the boundary searches.
	quiet    bool
	warnings []string
}

// tgiNativeTypes are the model types TGI v3.3.7 implements itself
// (ModelType, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L217-L417);
// any other goes through transformers' classes
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1738-L1774),
// which a model with state layers reaches as CausalLM: no paged KV cache.
var tgiNativeTypes = map[string]bool{
	"deepseek_v2": true, "deepseek_v3": true, "idefics2": true, "idefics3": true, "llava_next": true, "llama": true, "llama4": true,
	"phi3": true, "granite": true, "gemma": true, "paligemma": true, "gemma2": true, "gemma3": true, "gemma3_text": true, "cohere": true,
	"dbrx": true, "mamba": true, "mistral": true, "mixtral": true, "gpt_bigcode": true, "phi": true, "phimoe": true, "baichuan": true,
	"falcon": true, "starcoder2": true, "qwen2": true, "qwen2_vl": true, "qwen2_5_vl": true, "opt": true, "t5": true, "galactica": true,
	"santacoder": true, "bloom": true, "mpt": true, "gpt2": true, "gpt_neox": true, "gptj": true, "idefics": true, "mllama": true,
}

// TGINativeType reports whether TGI v3.3.7 implements a model_type itself
// (tgiNativeTypes); other types run through its transformers fallback.
func TGINativeType(modelType string) bool { return tgiNativeTypes[modelType] }

// tgiServes refuses a model with state layers TGI has no implementation
// of.
func tgiServes(m Model, v Version) error {
	if m.StateLayers && !tgiNativeTypes[m.Type] {
		return &NotServedError{Why: fmt.Sprintf("TGI %s has no implementation of model_type %q, whose state-space or linear-attention layers keep per-sequence state: it falls back to transformers' CausalLM, unsharded and without the paged KV budget vramcalc sizes", v, m.Type),
			Hint: servedHint(m.Type)}
	}
	return nil
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
	r.capTorch = Bytes(r.mf * float64(r.total))
	if err := tgiServes(m, v); err != nil {
		return nil, err
	}
	r.resolveWiggle(v)
	if err := r.checkQuantize(); err != nil {
		return nil, err
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
	kvElt, err := r.kvElement(v)
	if err != nil {
		return nil, err
	}
	kv, err := tgiKVLayout(m, r.ws, kvElt)
	if err != nil {
		return nil, err
	}
	r.kv = kv
	r.blk = Bytes(r.be.blockSize) * kv.perToken()

	tensors := m.checkpointTensors()
	if r.weights, err = weightsPerShard(m, tensors, r.ws, s, computeBits); err != nil {
		return nil, err
	}
	r.headSplit = m.Vocab%r.ws == 0
	r.layerBytes = tgiLayerBytes(m, r.ws, r.elt)
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

// resolveWiggle sets the free-memory fraction TGI keeps back: the
// release's, a calibration's, or TGI_WIGGLE_ROOM (read from v2.3.0).
func (r *tgiRun) resolveWiggle(v Version) {
	r.wig = r.prof.wiggle
	if c := r.s.Corrections; c != nil {
		if c.Wiggle > 0 {
			r.wig = c.Wiggle
		}
		r.warn("%s", c.note())
	}
	if r.s.WiggleRoom > 0 {
		if !v.AtLeast(2, 3, 0) {
			r.warn("TGI_WIGGLE_ROOM is read from v2.3.0 on; ignored for %s", v)
		} else {
			r.wig = r.s.WiggleRoom
		}
	}
}

// checkQuantize refuses what TGI's --quantize refuses and warns when a
// method needs a pre-quantized checkpoint this one is not.
func (r *tgiRun) checkQuantize() error {
	q := strings.ToLower(r.s.Quantize)
	if q == "exl2" && r.ws > 1 {
		return fmt.Errorf("%w: Sharding is currently not supported with `exl2` quantization", ErrInvalid)
	}
	switch q {
	case "", "fp8", "eetq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4":
	case "awq", "gptq", "marlin", "exl2", "compressed-tensors":
		if r.m.QuantMethod == "" {
			r.warn("--quantize %s needs a pre-quantized checkpoint; this one has no quantization_config, weights are counted as stored", q)
		}
	default:
		return fmt.Errorf("%w: --quantize %q (want awq, compressed-tensors, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4 or fp8)", ErrInvalid, r.s.Quantize)
	}
	return nil
}

// kvElement is the KV cache's bytes per element for --kv-cache-dtype.
func (r *tgiRun) kvElement(v Version) (int, error) {
	switch r.s.KVCacheDType {
	case dtypeNo:
		return r.elt, nil
	case F8E4M3, F8E5M2:
		// --kv-cache-dtype exists from v2.4.0 and works with flashinfer on
		// CUDA or paged (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/attention/kv_cache.py#L67-L84).
		if !v.AtLeast(2, 4, 0) {
			return 0, fmt.Errorf("%w: --kv-cache-dtype needs TGI 2.4.0 or later (got %s)", ErrInvalid, v)
		}
		if r.be.attention == AttentionFlashDecoding {
			return 0, fmt.Errorf("%w: fp8 KV cache is only supported with flashinfer or paged attention; TGI picked %s", ErrInvalid, r.be.attention)
		}
		return 1, nil
	case F16, BF16:
		return 2, nil
	}
	return 0, fmt.Errorf("%w: --kv-cache-dtype %s (want fp8_e4m3fn or fp8_e5m2)", ErrInvalid, r.s.KVCacheDType)
}

func (r *tgiRun) warn(format string, a ...any) {
	if len(a) == 0 {
		r.warnings = append(r.warnings, format)
		return
	}
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
}

// limits resolves the launcher's view of I, T and P from what the user gave
// (0 = not given). In v2.4.1+ I and T may stay 0: the server decides.
func (r *tgiRun) limits(I, T, P int) (int, int, int) {
	switch r.prof.defaults {
	case defaultsStatic:
		// https://github.com/huggingface/text-generation-inference/blob/v1.4.0/launcher/src/main.rs#L209-L221.
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

// start simulates one TGI start with launcher-resolved limits: the
// launcher's checks, the warm-up (its KV blocks and prefill peak), the KV
// budget from what is left, then the limits TGI settles and the router's checks.
func (r *tgiRun) start(I, T, P int) Startup {
	st := Startup{MaxInputTokens: I, MaxTotalTokens: T, MaxBatchPrefillTokens: P}
	if !r.launcherAccepts(&st, I, T, P) {
		return st
	}
	w := r.warmupBatch(I, T, P)
	st.WarmupRequests = w.reqs
	fits := r.warmupFits(&st, w, T)
	st.slack = min(st.slack, r.budgetSlack(st.WarmupBytes, w, T))
	if !fits {
		return st
	}
	numBlocks := r.kvBlocks(st.WarmupBytes, w, T)
	st.MaxBatchTotalTokens = int(numBlocks) * r.be.blockSize
	r.logWarmup(&st, P, numBlocks)
	r.settle(&st, w, numBlocks, I, T, P)
	return st
}

// fail marks st as failed with kind; msg builds the engine's own text, only
// when messages are kept (not during the boundary searches).
func (r *tgiRun) fail(st *Startup, kind string, msg func() string) {
	st.Failure, st.Fits = kind, false
	if !r.quiet {
		st.Message = msg()
	}
}

// launcherAccepts applies the checks made before anything loads.
func (r *tgiRun) launcherAccepts(st *Startup, I, T, P int) bool {
	switch {
	case I > 0 && T > 0 && I >= T:
		r.fail(st, FailureArgumentValidation, func() string { return fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", I, T) })
	case P <= 0:
		r.fail(st, FailureArgumentValidation, func() string { return "`max_batch_prefill_tokens` must be > 0" })
	case !r.prof.v.AtLeast(2, 4, 0) && P < I:
		// Launcher check before v2.4.0 (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/launcher/src/main.rs#L1504-L1516).
		r.fail(st, FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: %d and %d", P, I)
		})
	case T > 0 && I == 0 && P > T && r.prof.v.AtLeast(2, 4, 1):
		r.fail(st, FailureWarmupOverflow, func() string {
			return fmt.Sprintf("--max-total-tokens %d without --max-input-tokens and a prefill of %d: TGI's warm-up computes max_total_tokens - truncate in u32, which wraps; set --max-input-tokens or --max-batch-prefill-tokens <= %d", T, P, T)
		})
	default:
		return true
	}
	return false
}

// tgiWarmup is the warm-up batch: reqs requests (full of chunk tokens and
// one of rem), tokens prefill tokens in all, holding blocks KV blocks.
type tgiWarmup struct {
	chunk, full, rem, reqs, tokens int
	blocks                         int64
	allAtPrefill                   bool
}

// warmupBatch follows the router's warm-up batch
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/client/grpc_client.rs#L109-L223): requests of
// truncate = min(I, P − n) tokens until P is reached, capped by
// --max-batch-size.
func (r *tgiRun) warmupBatch(I, T, P int) tgiWarmup {
	w := tgiWarmup{chunk: P, tokens: P}
	if I > 0 && I < P {
		w.chunk = I
	}
	w.full, w.rem = P/w.chunk, P%w.chunk
	w.reqs = w.full
	if w.rem > 0 {
		w.reqs++
	}
	if r.s.MaxBatchSize > 0 && w.reqs > r.s.MaxBatchSize {
		w.reqs, w.full, w.rem = r.s.MaxBatchSize, r.s.MaxBatchSize, 0
		w.tokens = w.reqs * w.chunk
	}
	w.blocks = r.warmupBlocks(w, T)
	w.allAtPrefill = T > 0 && w.chunk == T-1 && w.rem == 0
	return w
}

// warmupBlocks is the KV blocks the warm-up requests reserve:
// ⌈(prompt + max_new_tokens − 1 + s)/BS⌉ each (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L346-L357),
// max_new_tokens = T − truncate, or 1 when T is unset.
func (r *tgiRun) warmupBlocks(w tgiWarmup, T int) int64 {
	bs, spec := int64(r.be.blockSize), r.s.Speculate
	if T > 0 {
		perReq := ceilDiv64(int64(T-1+spec), bs)
		if r.prof.windowCapsBlocks && r.m.SlidingWindow > 0 && flashMistralTypes[r.m.Type] {
			// v2.0.x flash_mistral.py caps every request's blocks at
			// ⌈sliding_window/BS⌉ (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_mistral.py#L159-L162).
			perReq = min(perReq, ceilDiv64(int64(r.m.SlidingWindow), bs))
		}
		return int64(w.reqs) * perReq
	}
	blocks := int64(w.full) * ceilDiv64(int64(w.chunk+spec), bs)
	if w.rem > 0 {
		blocks += ceilDiv64(int64(w.rem+spec), bs)
	}
	return blocks
}

// warmupFits sizes the warm-up (weights, warm-up KV, the prefill's
// activation peak) against the card and cuda_memory_fraction.
func (r *tgiRun) warmupFits(st *Startup, w tgiWarmup, T int) bool {
	kwarm := r.kvTensors(w.blocks)
	maxS := T
	if maxS == 0 {
		maxS = w.chunk
	}
	act := r.prefillPeak(w.tokens, w.reqs, maxS)
	if f := r.s.Corrections.activationFactor(); f != 1 {
		act = Bytes(float64(act) * f)
	}
	torchPart := r.weights + r.other + kwarm + act
	used := r.ctx + r.nccl + torchPart
	st.WarmupBytes, st.WarmupKVBytes, st.ActivationBytes = used, kwarm, act
	st.WarmupTokens = int(w.blocks) * r.be.blockSize
	st.CapacityBytes = min(r.total, r.capTorch+r.ctx+r.nccl)
	st.slack = float64(min(r.capTorch-torchPart, r.total-used))
	switch {
	case r.ctx+r.nccl+r.weights+r.other > r.total || r.weights+r.other > r.capTorch:
		r.fail(st, FailureWeights, func() string {
			return fmt.Sprintf("CUDA out of memory loading the weights: %s of weights per GPU on a %s card", r.weights, r.total)
		})
	case torchPart > r.capTorch || used > r.total:
		// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1549-L1553.
		r.fail(st, FailureWarmupOOM, func() string {
			return fmt.Sprintf("Not enough memory to handle %d prefill tokens. You need to decrease `--max-batch-prefill-tokens`", w.tokens)
		})
	default:
		return true
	}
	return false
}

// kvBlocks is the KV pool after the warm-up: the blocks the free memory
// holds beyond the reserve, plus the warm-up's own blocks added back.
func (r *tgiRun) kvBlocks(used Bytes, w tgiWarmup, T int) int64 {
	free := r.total - used - r.s.ExtraReserveBytes
	var extra int64
	if r.prof.wiggleOfTotal {
		// v3: get_free_memory(dev, MF·W) = max(0, free − (1 − MF·W)·Ttot)
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1556,
		// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/utils/import_utils.py#L13-L17).
		if kvMem := float64(free) - (1-r.mf*r.wig)*float64(r.total); kvMem > 0 {
			extra = int64(kvMem) / int64(r.blk)
		}
	} else {
		// ≤ v2.4: W · max(0, free − (1 − MF)·Ttot) (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/server/text_generation_server/models/flash_causal_lm.py#L1121, https://github.com/huggingface/text-generation-inference/blob/v2.4.1/server/text_generation_server/models/flash_causal_lm.py#L1549-L1553).
		if kvMem := float64(free) - (1-r.mf)*float64(r.total); kvMem > 0 {
			extra = int64(kvMem*r.wig) / int64(r.blk)
		}
	}
	if r.prof.addBackBug && w.allAtPrefill {
		if !r.quiet {
			r.warn("TGI %s drops the warm-up KV blocks when every warm-up request ends at prefill (max_input_tokens = max_total_tokens − 1 and a prefill that is a multiple of it): the budget is %d blocks short", r.prof.v, w.blocks)
		}
		return extra
	}
	return extra + w.blocks
}

// budgetSlack is the bytes of KV the budget has to spare over one request
// of T, less block 0, continued below zero free memory so that a start the
// warm-up already fails still says how far it is from the budget's edge
// (for the searches only; Startup.slack is in bytes, the warm-up's too).
// With T left to TGI, or when the warm-up blocks are not added back, the
// budget is not what limits the searched value, so it has no slack to give.
func (r *tgiRun) budgetSlack(used Bytes, w tgiWarmup, T int) float64 {
	if T == 0 || (r.prof.addBackBug && w.allAtPrefill) {
		return math.Inf(1)
	}
	free := float64(r.total - used - r.s.ExtraReserveBytes)
	kvMem := free - (1-r.mf)*float64(r.total)
	if r.prof.wiggleOfTotal {
		kvMem = free - (1-r.mf*r.wig)*float64(r.total)
	} else if kvMem > 0 {
		kvMem *= r.wig
	}
	// The pool never holds fewer than the warm-up's own blocks: a start
	// that passes keeps its (clamped) spare; one that fails says how far
	// the free memory would have to grow.
	spare := func(kv float64) float64 {
		tokens := (kv/float64(r.blk) + float64(w.blocks-1)) * float64(r.be.blockSize)
		return (tokens - float64(T)) * float64(r.kv.perToken())
	}
	if s := spare(max(kvMem, 0)); s >= 0 || kvMem >= 0 {
		return s
	}
	return spare(kvMem)
}

// logWarmup adds the lines TGI prints once the warm-up is done.
func (r *tgiRun) logWarmup(st *Startup, P int, numBlocks int64) {
	if r.quiet {
		return
	}
	if r.prof.defaults >= defaultsComputeOptimal && r.s.MaxBatchPrefillTokens == 0 {
		st.LogLines = append(st.LogLines, "Default `max_batch_prefill_tokens` to "+strconv.Itoa(P))
	}
	st.LogLines = append(st.LogLines, "KV-cache blocks: "+strconv.FormatInt(numBlocks, 10)+", size: "+strconv.Itoa(r.be.blockSize))
}

// settle decides the T and I TGI leaves to the warm-up
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1566-L1579; v2.4.1 the same with chunking opt-in) and
// applies the router's checks against the KV budget.
func (r *tgiRun) settle(st *Startup, w tgiWarmup, numBlocks int64, I, T, P int) {
	mbt := st.MaxBatchTotalTokens
	autoT, autoI := T == 0, I == 0
	if T == 0 {
		T = w.tokens
		if r.be.chunking {
			T = mbt
			if r.prof.mpeCapsT && r.m.MaxPositions > 0 && r.m.MaxPositions < T {
				T = r.m.MaxPositions
			}
		}
	}
	if I == 0 {
		I = T - 1
	}
	st.MaxInputTokens, st.MaxTotalTokens = I, T
	if T > mbt {
		if r.prof.notEnoughMemoryIsArgValidation {
			r.fail(st, FailureArgumentValidation, func() string {
				return fmt.Sprintf("`max_total_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", T, mbt)
			})
			return
		}
		r.fail(st, FailureNotEnoughMemory, func() string { return fmt.Sprintf("Not enough memory to handle `max_total_tokens=%d`", T) })
		return
	}
	if !r.quiet {
		st.LogLines = append(st.LogLines, "Setting max batch total tokens to "+strconv.Itoa(mbt))
		if autoI {
			st.LogLines = append(st.LogLines, "Maximum input tokens defaulted to "+strconv.Itoa(I))
		}
		if autoT {
			st.LogLines = append(st.LogLines, "Maximum total tokens defaulted to "+strconv.Itoa(T))
		}
	}
	r.routerChecks(st, numBlocks, I, T, P, autoT)
}

// routerChecks are the router's checks once the KV budget is known.
func (r *tgiRun) routerChecks(st *Startup, numBlocks int64, I, T, P int, autoT bool) {
	mbt, bs := st.MaxBatchTotalTokens, r.be.blockSize
	switch {
	case I >= T:
		r.fail(st, FailureArgumentValidation, func() string { return fmt.Sprintf("`max_input_tokens`(%d) must be < `max_total_tokens`(%d)", I, T) })
	case r.checksPrefill() && P < I:
		// Router check (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/main.rs#L167-L196).
		r.fail(st, FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: %d and %d", P, I)
		})
	case P > mbt:
		r.fail(st, FailureArgumentValidation, func() string {
			return fmt.Sprintf("`max_batch_prefill_tokens` must be <= `max_batch_total_tokens`. Given: %d and %d", P, mbt)
		})
	case !autoT && (int(numBlocks)-1)*bs < T:
		// Block 0 is kept for health checks (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/block_allocator.rs#L152),
		// so the router could never admit one full-length request.
		r.fail(st, FailureCannotServe, func() string {
			return fmt.Sprintf("starts with max_batch_total_tokens=%d, but less block 0 (kept for health checks) that cannot hold one request of max_total_tokens=%d", mbt, T)
		})
	default:
		st.Fits = true
	}
}

// allocRound is the CUDA caching allocator's rounding of large segments,
// kRoundLarge = 2 MiB
// (https://github.com/pytorch/pytorch/blob/b42fb11650d1718ca81c6826b0a12247f94665fc/c10/core/AllocatorConfig.h#L15-L24,
// a PyTorch main commit; the release TGI ships was not matched to it).
// Limitation: the allocator rounds a segment to 2 MiB only from
// kMinLargeAlloc = 10 MiB; a request of 1–10 MiB is carved out of a shared
// 20 MiB segment (kLargeBuffer). kvTensors rounds every tensor above 1 MiB to
// 2 MiB, which is exact for the ≥ 10 MiB KV tensors of a real pool and only
// approximate for the small ones of a warm-up.
const allocRound = 2 * MiB

// kvTensors is the device memory of a KV cache of n blocks: TGI allocates
// one K and one V tensor per layer
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/attention/kv_cache.py#L95-L133),
// each rounded by the allocator.
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

// kvStepBelow is searcher.stepBelow for a search whose warm-up holds
// ⌈(n + off)/BS⌉ KV blocks at limit n (one request): the largest limit
// whose K and V tensors round (kvTensors) to one allocator step less than
// n's, or n when they are not rounded.
func (r *tgiRun) kvStepBelow(n, off int) int {
	tensors := int64(2 * r.kv.layers)
	bs := int64(r.be.blockSize)
	if tensors == 0 || n+off <= 0 {
		return n
	}
	perBlock := int64(r.blk) / tensors
	per := perBlock * ceilDiv64(int64(n+off), bs)
	if per <= int64(MiB) || perBlock == 0 {
		return n
	}
	steps := ceilDiv64(per, int64(allocRound))
	blocks := (steps - 1) * int64(allocRound) / perBlock
	return int(blocks*bs) - off
}

// startWith resolves defaults and starts.
func (r *tgiRun) startWith(I, T, P int) Startup {
	I, T, P = r.limits(I, T, P)
	return r.start(I, T, P)
}

// boundaryT finds the largest T that starts with the version's default P
// (the user's P if given) and I = T − 1, or the user's I when given.
func (r *tgiRun) boundaryT() (int, string, tgiOutcome) {
	hi := r.m.MaxPositions
	if hi <= 0 {
		hi = 1 << 22
	}
	if I := r.s.MaxInputTokens; I > 0 {
		return r.boundaryTForInput(I, hi)
	}
	s := tgiSearch(func(t int) tgiOutcome { return r.outcome(t-1, t, r.s.MaxBatchPrefillTokens) })
	s.stepBelow = func(t int) int { return r.kvStepBelow(t, r.s.Speculate-1) }
	top := probe[tgiOutcome]{hi, s.try(hi)}
	if top.st.fits {
		return hi, "max_position_embeddings", top.st
	}
	lo, fail, ok := r.feasiblePivot(s, top)
	if !ok {
		return 0, startLimit(fail.st), fail.st
	}
	if P, fixed := r.fixedPrefill(); fixed && r.checksPrefill() && lo.at == P+1 {
		// The router refuses max_input_tokens above the prefill without
		// chunking (routerChecks), so no T above P + 1 starts.
		return lo.at, "prefill", lo.st
	}
	lo, past := s.edge(lo, fail)
	return lo.at, edgeLimit(past.st), lo.st
}

// tgiOutcome is what the searches keep of one start: small, as a search
// copies it around for every probe.
type tgiOutcome struct {
	fits    bool
	failure string
	slack   float64
	// mbt and prefill are the start's KV budget and max_batch_prefill_tokens.
	mbt, prefill int
}

// outcome starts with (I, T, P) and keeps what the searches need.
func (r *tgiRun) outcome(I, T, P int) tgiOutcome {
	st := r.startWith(I, T, P)
	return tgiOutcome{fits: st.Fits, failure: st.Failure, slack: st.slack, mbt: st.MaxBatchTotalTokens, prefill: st.MaxBatchPrefillTokens}
}

// tgiSearch searches over TGI starts (search.go).
func tgiSearch(try func(int) tgiOutcome) searcher[tgiOutcome] {
	return searcher[tgiOutcome]{try: try, fits: func(o tgiOutcome) bool { return o.fits }, slack: func(o tgiOutcome) float64 { return o.slack }}
}

// feasiblePivot finds a T that starts, for I = T − 1, and the smallest T
// tried above it that does not (top when none). Feasibility is not
// monotone below P + 1: a short T splits the warm-up prefill into
// ⌈P/(T−1)⌉ requests whose logits and sampling buffers grow as T shrinks.
// Above P + 1 there is one request and the warm-up KV only grows with T, so
// the pivot is P + 1, or the first of its halvings that starts. ok is false
// when none starts; fail is then the pivot's start.
func (r *tgiRun) feasiblePivot(s searcher[tgiOutcome], top probe[tgiOutcome]) (lo, fail probe[tgiOutcome], ok bool) {
	pivot := 2
	if p, fixed := r.fixedPrefill(); fixed {
		pivot = min(max(p+1, 2), top.at-1)
	}
	first := probe[tgiOutcome]{pivot, s.try(pivot)}
	if first.st.fits {
		return first, top, true
	}
	fail = first
	for t := pivot / 2; t >= 2; t /= 2 {
		p := probe[tgiOutcome]{t, s.try(t)}
		if p.st.fits {
			return p, fail, true
		}
		fail = p
	}
	return lo, first, false
}

// fixedPrefill is the --max-batch-prefill-tokens every T of the T search
// starts with, when it does not depend on T (given, or a release's fixed
// default).
func (r *tgiRun) fixedPrefill() (int, bool) {
	if r.s.MaxBatchPrefillTokens > 0 || r.prof.defaults >= defaultsServerP4096 {
		_, _, p := r.limits(0, 0, r.s.MaxBatchPrefillTokens)
		return p, true
	}
	return 0, false
}

// checksPrefill is whether the router refuses a prefill below
// max_input_tokens (from v2.4.0, without chunking).
func (r *tgiRun) checksPrefill() bool { return r.prof.v.AtLeast(2, 4, 0) && !r.be.chunking }

// boundaryTForInput finds the largest T that starts with the user's I. The
// warm-up splits P into the same requests for every T, and each one's KV
// blocks and the budget check only grow with T, so T = I + 1 either starts
// or nothing does, and the edge lies above it.
func (r *tgiRun) boundaryTForInput(I, hi int) (int, string, tgiOutcome) {
	s := tgiSearch(func(t int) tgiOutcome { return r.outcome(I, t, r.s.MaxBatchPrefillTokens) })
	if hi <= I {
		hi = I + 1
	}
	top := probe[tgiOutcome]{hi, s.try(hi)}
	if top.st.fits {
		return hi, "max_position_embeddings", top.st
	}
	first := probe[tgiOutcome]{I + 1, s.try(I + 1)}
	if !first.st.fits {
		return 0, startLimit(first.st), first.st
	}
	lo, past := s.edge(first, top)
	return lo.at, edgeLimit(past.st), lo.st
}

// startLimit names what stops any T from starting.
func startLimit(o tgiOutcome) string {
	if o.failure == FailureWeights {
		return "weights"
	}
	return "warmup"
}

// edgeLimit names the term that stops T from growing, from the start just
// past the edge.
func edgeLimit(past tgiOutcome) string {
	switch past.failure {
	case FailureNotEnoughMemory, FailureCannotServe:
		return "kv_budget"
	case FailureArgumentValidation:
		return "prefill"
	}
	return "warmup"
}

// boundaryP finds the largest P that starts with the given I and T. It is
// not monotone either: a tiny P means one warm-up request, whose KV blocks
// (added back to the pool) may fall short of T when little is left after the
// reserve, while more requests reserve more blocks that count in the budget.
// So it starts from a P that starts and grows from there.
func (r *tgiRun) boundaryP(I, T int) int {
	s := tgiSearch(func(p int) tgiOutcome { return r.outcome(I, T, p) })
	if I == 0 && T == 0 {
		s.stepBelow = func(p int) int { return r.kvStepBelow(p, r.s.Speculate) }
	}
	_, _, def := r.limits(I, T, r.s.MaxBatchPrefillTokens)
	p, _ := s.largestFrom(1<<22, def, T+1, T, I, 2*I, def/2, def/4, 1)
	return p
}

// concurrency is how many requests of in+out tokens fit in a budget of
// mbt tokens: block 0 is reserved for health checks
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/block_allocator.rs#L152).
func (r *tgiRun) concurrency(mbt, in, out int) int {
	bs := r.be.blockSize
	tokens := in + out
	// Before v3.2.1 the router capped each request at the sliding window
	// (https://github.com/huggingface/text-generation-inference/blob/v2.0.0/router/src/queue.rs#L246-L251;
	// https://github.com/huggingface/text-generation-inference/blob/v3.0.0/backends/v3/src/block_allocator.rs#L165-L169
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
		WeightsFrom:     r.m.weightsSource(),
	}
	if (r.m.SlidingWindow > 0 && (r.m.MaxPositions == 0 || r.m.SlidingWindow < r.m.MaxPositions)) || len(r.m.LayerTypes) > 0 {
		r.warn("TGI allocates full-length KV for every layer, sliding-window layers included (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/model.py#L113)")
	}
	if r.m.IsMLA() {
		r.warn("TGI stores full per-head K/V for MLA (head size %d × %d heads), not the compressed latent vLLM and SGLang keep", r.kv.headSize, r.m.KVHeadCount())
	}
	s := r.s
	st := r.startWith(s.MaxInputTokens, s.MaxTotalTokens, s.MaxBatchPrefillTokens)
	res.Startup = st
	res.PerGPU = r.breakdown(st)
	r.quiet = true
	res.Boundary = r.boundary(st)
	r.quiet = false
	if b := res.Boundary; b.MaxTotalTokens > 0 {
		in, out := requestTokens(s, b.MaxInputTokens, b.MaxTotalTokens)
		res.Boundary.MaxConcurrentRequests = r.concurrency(b.MaxBatchTotalTokens, in, out)
	}
	if st.Fits {
		in, out := requestTokens(s, st.MaxInputTokens, st.MaxTotalTokens)
		res.Startup.MaxConcurrentRequests = r.concurrency(st.MaxBatchTotalTokens, in, out)
	}
	res.Assumptions = append(res.Assumptions, r.boundaryAssumption(res.Boundary))
	res.Warnings = r.warnings
	return res
}

// requestTokens is the request shape the concurrency figures are for: the
// one asked for, or a full-length request of the configuration (I in, T − I out).
func requestTokens(s Settings, I, T int) (in, out int) {
	if s.RequestInputTokens > 0 || s.RequestOutputTokens > 0 {
		return s.RequestInputTokens, s.RequestOutputTokens
	}
	return I, T - I
}

// boundary is the largest T (at the release's prefill, or half the largest
// prefill that starts when that default does not) and the largest P with
// the started I and T (the boundary's when the given ones do not start).
func (r *tgiRun) boundary(st Startup) Boundary {
	s := r.s
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
	b := Boundary{MaxTotalTokens: bT, LimitedBy: lim, PrefillAtMaxTotal: bst.prefill}
	if bT > 0 {
		b.MaxInputTokens = bT - 1
		if s.MaxInputTokens > 0 {
			b.MaxInputTokens = s.MaxInputTokens
		}
		b.MaxBatchTotalTokens = bst.mbt
	}
	pi, pt := st.MaxInputTokens, st.MaxTotalTokens
	if s.MaxInputTokens == 0 && s.MaxTotalTokens == 0 && r.prof.defaults >= defaultsServerP4096 {
		pi, pt = 0, 0
	}
	if !st.Fits && bT > 0 {
		pi, pt = b.MaxInputTokens, bT
	}
	b.MaxBatchPrefillTokens = r.boundaryP(pi, pt)
	return b
}

// boundaryAssumption says what the boundary's max total tokens assume.
func (r *tgiRun) boundaryAssumption(b Boundary) string {
	if I := r.s.MaxInputTokens; I > 0 {
		return "the boundary is the largest --max-total-tokens that starts with --max-input-tokens " + strconv.Itoa(I) + " as given and --max-batch-prefill-tokens " + strconv.Itoa(b.PrefillAtMaxTotal)
	}
	return "the boundary's --max-total-tokens assumes --max-input-tokens = --max-total-tokens − 1 (a request may be all input) and --max-batch-prefill-tokens " +
		strconv.Itoa(b.PrefillAtMaxTotal) + "; give --max-input-tokens for the largest total with shorter inputs"
}

// breakdown is the per-GPU picture after a start (or at the failed warm-up).
func (r *tgiRun) breakdown(st Startup) Breakdown {
	b := Breakdown{Weights: r.weights, CUDAContext: r.ctx, NCCL: r.nccl, Other: r.other}
	b.ActivationPeak = st.ActivationBytes
	if st.MaxBatchTotalTokens > 0 {
		b.KVCache = Bytes(st.MaxBatchTotalTokens/r.be.blockSize) * r.blk
	}
	if r.prof.cudaGraphs && st.Fits && !tgiQuantizeDisablesGraphs(r.prof.v, r.s.Quantize) {
		b.CUDAGraphs = r.cudaGraphBytes(st.MaxTotalTokens)
	}
	b.Reserve = b.unallocated(r.total)
	return b
}

// tgiQuantizeDisablesGraphs reports whether the launcher captures no CUDA
// graphs by default for this --quantize: bitsandbytes (8-bit, NF4 and FP4)
// in v2.0.0 – v3.0.1, and exl2 too from v2.3.0
// (https://github.com/huggingface/text-generation-inference/blob/v2.0.0/launcher/src/main.rs#L1374-L1387,
// https://github.com/huggingface/text-generation-inference/blob/v2.3.0/launcher/src/main.rs#L1695-L1712); from v3.0.2 only 8-bit
// bitsandbytes and exl2
// (https://github.com/huggingface/text-generation-inference/blob/v3.0.2/launcher/src/main.rs#L2086-L2096).
func tgiQuantizeDisablesGraphs(v Version, quantize string) bool {
	switch q := strings.ToLower(quantize); q {
	case "bitsandbytes":
		return true
	case "bitsandbytes-nf4", "bitsandbytes-fp4":
		return !v.AtLeast(3, 0, 2)
	case "exl2":
		return v.AtLeast(2, 3, 0)
	}
	return false
}

// cudaGraphBytes estimates the shared pool of the decode graphs for batch
// sizes up to 32, captured largest first (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L30, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L60-L61;
// docs/ENGINES.md §2.2, derived): decode activations and logits for 32 rows and
// v3's [32, T] int32 block tables.
func (r *tgiRun) cudaGraphBytes(T int) Bytes {
	const bs = 32
	h := int64(r.m.Hidden)
	act := int64(bs) * (2*h + 4*int64(max(r.m.Intermediate, cmp.Or(r.m.MoEIntermediate, r.m.Intermediate)*max(1, r.m.ExpertsPerToken)))/int64(r.ws)) * int64(r.elt)
	logits := int64(bs) * int64(r.m.Vocab) * 4
	tables := int64(0)
	if r.prof.v.AtLeast(3, 0, 0) {
		tables = int64(bs) * int64(T) * 4
	}
	return Bytes(act + logits + tables)
}

// mpeCapped is the v2 launcher's mpe' = min(max_position_embeddings, 4096),
// 4096 when the config has none (https://github.com/huggingface/text-generation-inference/blob/v2.2.0/launcher/src/main.rs#L1439-L1460).
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

// computeOptimalP follows https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2114-L2154.
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
		// P = 4096 (docs/ENGINES.md §1.4 pitfall).
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

// tgiLauncherHeadDim is the launcher's get_head_dim: head_dim, else
// hidden/heads when it divides evenly (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L262-L279, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L362-L371).
func tgiLauncherHeadDim(m Model) int {
	if m.HeadDim > 0 {
		return m.HeadDim
	}
	if m.Heads > 0 && m.Hidden%m.Heads == 0 {
		return m.Hidden / m.Heads
	}
	if m.Type == "gemma3" {
		return 256
	}
	return 0
}

// tgiCardTFLOPs is the launcher's f16 TFLOPs table keyed by the lower-cased,
// dash-joined nvidia-smi name (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1713-L1731 names,
// 1754-1785 TFLOPs). v3.0.0 has only the first nine keys.
var tgiCardTFLOPs = []struct {
	key    string
	tflops uint64
	v30    bool
}{
	{"nvidia-4090", 82, true},
	{"nvidia-t4", 65, true},
	{"nvidia-l4", 121, true},
	{"nvidia-l40s", 363, true},
	{"nvidia-a10g", 125, true},
	{"nvidia-h100-80gb-hbm3", 900, true},
	{"nvidia-a100-sxm4-80gb", 312, true},
	{"nvidia-a100", 312, true},
	{"nvidia-l40", 181, true},
	{"nvidia-a40", 149, false},
	{"nvidia-h100-nvl", 900, false},
	{"nvidia-h100", 900, false},
	{"nvidia-a100-sxm4-40gb", 312, false},
	{"nvidia-a100-80gb-pcie", 312, false},
	{"nvidia-h200", 989, false},
}

// TGICardKey is how TGI's launcher names a card: nvidia-smi's gpu_name with
// spaces replaced by '-' and lower-cased (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1819-L1828).
func TGICardKey(smiName string) string {
	return strings.ToLower(strings.ReplaceAll(smiName, " ", "-"))
}

func tgiCardFLOPs(p tgiProfile, smiName string) (uint64, bool) {
	key := TGICardKey(smiName)
	for _, c := range tgiCardTFLOPs {
		if c.key == key && (c.v30 || !p.cardsV30) {
			return c.tflops * 1_000_000_000_000, true
		}
	}
	return 0, false
}

// tgiFlop is the launcher's Config::flop (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L281-L308): None for
// VLMs; the MLP uses intermediate_size × (num_experts_per_tok (default 1) +
// n_shared_experts (default 0)).
func tgiFlop(m Model) (uint64, bool) {
	hd := uint64(tgiLauncherHeadDim(m))
	if m.Vision || hd == 0 || m.Heads == 0 || m.Hidden == 0 || m.Layers == 0 || m.Intermediate == 0 {
		return 0, false
	}
	nh, nkv, h := uint64(m.Heads), uint64(m.KVHeadCount()), uint64(m.Hidden)
	k := uint64(1)
	if m.ExpertsPerToken > 0 {
		k = uint64(m.ExpertsPerToken)
	}
	im := uint64(m.Intermediate) * (k + uint64(m.SharedExperts))
	attn := 2*nh*hd*h + 2*nkv*hd*h + 2*nkv*hd*h + 2*nh*hd*h + 2*nh*hd*h
	mlp := 2 * 3 * h * im
	return (attn + mlp) * uint64(m.Layers), true
}

// tgiVRAMMaximum is the launcher's vram_maximum (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L62-L89,
// 1787-1811, 310-351), bugs included: the qkv term is not multiplied by
// hidden, tied embeddings count twice, every expert counts, and it is None
// for checkpoints with a quantization_config. The launcher's wiggle default
// is 0.95 whatever the server's is, and the product is taken in f32.
func tgiVRAMMaximum(m Model, hw Hardware, shards int, mf, wiggle float64) (int, bool) {
	hd := tgiLauncherHeadDim(m)
	if m.QuantMethod != "" || hd == 0 || m.Intermediate == 0 || m.Vocab == 0 {
		return 0, false
	}
	smiMiB := hw.GPU.SMITotalMiB
	if smiMiB == 0 {
		smiMiB = int(hw.GPU.TotalBytes / MiB)
	}
	total := uint64(smiMiB) << 20 * uint64(shards)
	available := uint64(float32(total) * float32(mf) * float32(wiggle))
	experts := 1
	if m.Experts > 0 && (m.Type == "mixtral" || m.Type == "gpt_oss") {
		// RawConfig reads num_local_experts only (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L224).
		experts = m.Experts
	}
	nh, nkv, h := uint64(m.Heads), uint64(m.KVHeadCount()), uint64(m.Hidden)
	attn := (nh + 2*nkv) * uint64(hd)
	o := nh * uint64(hd) * h
	mlp := 3 * uint64(m.Intermediate) * uint64(experts) * h
	params := (mlp+attn+o)*uint64(m.Layers) + 2*h*uint64(m.Vocab)
	model := params * 2
	kv := nkv * 2 * uint64(hd) * 2 * uint64(m.Layers)
	im := uint64(m.Intermediate)
	mlpTok := (im + im/2) * uint64(experts) * 2 * 3
	if available < model {
		return 0, false
	}
	return int((available - model) / (kv + mlpTok)), true
}

// Block sizes by attention backend (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L38-L46).
const (
	blockFlashInfer    = 1
	blockFlashDecoding = 256
	blockPaged         = 16
)

// Attention backends TGI names in its ATTENTION env.
const (
	AttentionFlashInfer    = "flashinfer"
	AttentionFlashDecoding = "flashdecoding"
	AttentionPaged         = "paged"
)

// tgiBackend is the attention backend choice and what follows from it.
type tgiBackend struct {
	attention     string
	blockSize     int
	prefixCaching bool
	chunking      bool
	notes         []string
}

// flashMistralTypes are served by v2.0.x's flash_mistral.py
// (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_mistral.py#L308,
// BaseFlashMistral) through its subclasses FlashMistral
// (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_mistral.py#L589),
// FlashMixtral (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_mixtral.py#L12),
// FlashQwen2 (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_qwen2.py#L27)
// and FlashStarcoder2
// (https://github.com/huggingface/text-generation-inference/blob/v2.0.4/server/text_generation_server/models/flash_starcoder2.py#L26).
var flashMistralTypes = map[string]bool{"mistral": true, "mixtral": true, "qwen2": true, "starcoder2": true}

// noChunkingTypes are the VLMs TGI serves without prefill chunking, the four
// model types v3.3.7 builds with support_chunking=False: gemma3
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1196,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1209), qwen2_vl
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1526), qwen2_5_vl
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1559) and mllama
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1589); docs/ENGINES.md §8.
var noChunkingTypes = map[string]bool{"qwen2_vl": true, "qwen2_5_vl": true, "gemma3": true, "mllama": true}

// resolveBackend follows the launcher's resolve_attention
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L131-L204) and the server's block-size table.
func resolveBackend(p tgiProfile, m Model, hw Hardware, s Settings) tgiBackend {
	var b tgiBackend
	if !p.backends {
		// Before v2.3.0 every release uses paged blocks of 16, except
		// FLASH_DECODING (v2.1.1+), which v2.2.0 forces for gemma2.
		b.attention, b.blockSize = AttentionPaged, blockPaged
		if p.v.AtLeast(2, 2, 0) && m.Type == "gemma2" {
			b.attention, b.blockSize = AttentionFlashDecoding, blockFlashDecoding
			b.notes = append(b.notes, "TGI v2.2 forces FLASH_DECODING (block size 256) for gemma2")
		}
		if s.Attention == AttentionFlashDecoding && p.v.AtLeast(2, 1, 1) {
			b.attention, b.blockSize = AttentionFlashDecoding, blockFlashDecoding
		}
		return b
	}
	cc := hw.GPU.ComputeCapability
	fallback := AttentionFlashDecoding
	if p.pagedFallback && (cc == 0 || cc < 80) {
		fallback = AttentionPaged
	}
	prefix := !m.Vision
	attention := strings.ToLower(s.Attention)
	hd := tgiLauncherHeadDim(m)
	switch {
	case hd == 64 || hd == 128 || hd == 256:
		if m.Type == "falcon" || m.Type == "deepseek_v2" {
			if attention == "" {
				attention = fallback
				b.notes = append(b.notes, "TGI forces attention to '"+fallback+"' for model_type "+m.Type)
			}
		}
	default:
		if attention == "" {
			attention = fallback
			b.notes = append(b.notes, "TGI forces attention to '"+fallback+"' because head dim is not supported by flashinfer, also disabling prefix caching")
		}
		prefix = false
	}
	if attention == "" {
		attention = AttentionFlashInfer
	}
	if attention == AttentionPaged {
		prefix = false
	}
	b.attention = attention
	b.prefixCaching = prefix
	switch attention {
	case AttentionFlashInfer:
		b.blockSize = blockFlashInfer
	case AttentionFlashDecoding:
		b.blockSize = blockFlashDecoding
	default:
		b.blockSize = blockPaged
	}
	// Chunking needs flashinfer or flashdecoding, no speculation
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/model.py#L73-L95) and
	// a model that supports it (noChunkingTypes).
	b.chunking = p.chunkingDefault && attention != AttentionPaged && s.Speculate == 0 && !noChunkingTypes[m.Type]
	return b
}

// Terms that are not engine constants but properties of the CUDA/PyTorch
// runtime under the engine. They are vramcalc's defaults until `vramcalc
// calibrate` fits them to observations; each is a term the engine really has.
const (
	// CUDAContextBytes is the CUDA context, cuBLAS workspaces and loaded
	// kernels of one TGI shard process. 640 MiB sits between the 0.52 GB and
	// 0.8 GB left over by TGI 2.0 startup reports (testdata/startup_reports_dev.csv rows 9 and 3)
	// once weights, warm-up KV, the prefill peak and the logged KV budget are
	// subtracted.
	CUDAContextBytes = 640 * MiB
	// NCCLBytes is the communicator buffers per GPU when sharded (ws ≥ 2);
	// vLLM logs show 0.5–2 GiB of non-torch memory at TP ≥ 2
	// (docs/STARTUP-REPORTS.md, the first of its log patterns); TGI uses plain
	// NCCL, so the low end.
	NCCLBytes = 512 * MiB
	// FlashInferWorkspaceBytes is the shared flashinfer workspace
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/layers/attention/flashinfer.py#L42,
	// torch.empty(128 * 1024 * 1024, dtype=torch.uint8)).
	FlashInferWorkspaceBytes = 128 * MiB
	// allocatorFactor scales the live-tensor sum of a prefill to the caching
	// allocator's reserved peak (2 MiB segment rounding, fragmentation and
	// transient copies). 1.25 reconciles the same two TGI 2.0 reports.
	allocatorFactor = 1.25
)

// kvLayout is the KV cache geometry of one shard.
type kvLayout struct {
	heads    int // KV heads on this shard
	headSize int
	layers   int
	eltBytes int
}

// perToken is the KV bytes of one token on one shard: 2 (K and V) × layers ×
// heads × head size × element bytes.
func (k kvLayout) perToken() Bytes {
	return Bytes(2 * k.layers * k.heads * k.headSize * k.eltBytes)
}

// tgiKVLayout follows FlashCausalLM.__init__ (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1286-L1306):
// kv heads = num_key_value_heads // ws when > 1, else 1 (MQA is replicated);
// head size = head_dim or hidden/heads. DeepSeek V2/V3 keep full per-head K
// and V padded to max(qk_nope_dim + qk_rope_dim, v_head_dim), read with the
// non-HF keys qk_nope_dim/qk_rope_dim so always 128 + 64
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L696-L700).
func tgiKVLayout(m Model, ws int, elt int) (kvLayout, error) {
	k := kvLayout{layers: m.Layers, eltBytes: elt}
	kvh := m.KVHeadCount()
	k.headSize = m.HeadSize()
	if m.IsMLA() {
		k.headSize = 128 + 64
		if m.VHeadDim > k.headSize {
			k.headSize = m.VHeadDim
		}
	}
	if m.Heads%ws != 0 {
		return k, fmt.Errorf("%w: `num_heads` must be divisible by `num_shards` (got num_heads=%d and num_shards=%d)", ErrInvalid, m.Heads, ws)
	}
	if kvh > 1 || llamaFamilyTypes[m.Type] {
		// flash_llama_modeling.py raises when not divisible, even for one KV
		// head (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L172-L176);
		// other models take kv_heads // ws and need > 0
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1290-L1296),
		// so only their MQA is replicated.
		if kvh%ws != 0 {
			return k, fmt.Errorf("%w: `num_key_value_heads` must be divisible by `num_shards` (got num_key_value_heads=%d and num_shards=%d)", ErrInvalid, kvh, ws)
		}
		k.heads = kvh / ws
	} else {
		k.heads = kvh
	}
	return k, nil
}

// tgiLayerBytes is the activation bytes per prefill token of the larger of
// a decoder layer's attention and MLP phases on one shard (docs/ENGINES.md
// §4), beyond weights and KV. It depends only on the model, so it is
// computed once per estimate.
func tgiLayerBytes(m Model, ws, elt int) int64 {
	h := int64(m.Hidden)
	hd := int64(m.HeadSize())
	nh := int64(m.Heads)
	nkv := int64(m.KVHeadCount())
	if m.IsMLA() {
		hd, nkv = 192, nh
	}
	w := int64(ws)
	// Attention phase: residual, normed input and o_proj output (3·H), the
	// fused QKV output and the attention output.
	attn := 3*h + ((nh+2*nkv)*hd+nh*hd)/w
	// Dense MLP phase: residual and normed input (2·H), gate_up (2·Im), the
	// act(gate) temporary (Im) and the product (Im)
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L399-L404).
	mlp := 2*h + 4*int64(m.Intermediate)/w
	if m.IsMoE() {
		// Fused MoE caches per routed copy: [P·k, 2·Ie], [P·k, Ie], [P·k, H]
		// (the vLLM kernels TGI uses), plus shared experts as a dense MLP.
		ie := int64(m.ExpertWidth())
		k := int64(m.ExpertsPerToken)
		if k == 0 {
			k = 2
		}
		moe := 2*h + k*(3*ie/w+h) + 4*int64(m.SharedExperts)*ie/w + int64(m.Experts)*2
		if m.DenseLayers == 0 || moe > mlp {
			mlp = moe
		}
	}
	return max(attn, mlp) * int64(elt)
}

// prefillPeak is the reserved activation peak of one prefill of p tokens in
// reqs requests on one shard (docs/ENGINES.md §4), beyond weights and KV:
// the layers' live tensors, the logits and the sampling buffers, scaled by
// the caching allocator's factor, plus Gemma 3's extras.
func (r *tgiRun) prefillPeak(p, reqs, maxS int) Bytes {
	elt, w := int64(r.elt), int64(r.ws)
	live := int64(p) * r.layerBytes
	// Logits. With prefill logprobs (≤ v2.4, or v3 --enable-prefill-logprobs)
	// the lm_head runs on all P rows, plus the TP gather's full [V, P] when
	// the head is split, plus log_softmax's copy up to v2.3.1 (docs/ENGINES.md
	// errata §4). Otherwise only the last token of each request.
	v := int64(r.m.Vocab)
	logprobs := r.prof.allLogits || r.s.PrefillLogprobs
	rows := int64(reqs)
	if logprobs {
		rows = int64(p)
	}
	factor := w // in units of 1/ws
	if r.headSplit && r.ws > 1 {
		factor++
	}
	logits := rows * v * elt * factor / w
	if logprobs && r.prof.logSoftmaxCopy {
		logits += rows * v * elt
	}
	// The last hidden states and the sampling buffers over [R, V] in fp32
	// (softmax, logprobs, top-n 20) (derived).
	sampling := int64(reqs)*v*4*3 + int64(p)*int64(r.m.Hidden)*elt
	total := float64(live+logits+sampling) * allocatorFactor
	return Bytes(total) + gemma3PrefillExtra(r.m, p, maxS, r.prof)
}

// gemma3PrefillExtra is what TGI's Gemma 3 path (v3.2.0+, the VLM model)
// holds during the warm-up prefill on top of a Llama-style forward, per
// shard (exact sizes, outside the allocator factor):
//   - attention masks over the whole prefill: get_attention_mask builds a
//     bool [P, P] mask and torch.where(mask, 0, min_dtype) an fp32 one, for
//     the global and again for the sliding-window mask, plus the packed bits
//     flashinfer takes: (1 + 4 + 1 + 4 + 1/8)·P² = 10.125·P² bytes
//     (https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/vlm_causal_lm.py#L1023-L1031,
//     https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/custom_modeling/flash_gemma3_modeling.py#L705-L764,
//     https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/custom_modeling/flash_gemma3_modeling.py#L866-L884);
//   - one rotary cos/sin cache per layer sized by the warm-up's max_s
//     (https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/custom_modeling/flash_gemma3_modeling.py#L131-L148,
//     https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/custom_modeling/flash_gemma3_modeling.py#L517,
//     https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/layers/rotary.py#L251-L280):
//     layers·2·max_s·(head_dim/2)·2 B;
//   - Gemma3FastRMSNorm's fp32 copy of the hidden states
//     (https://github.com/huggingface/text-generation-inference/blob/v3.3.4/server/text_generation_server/models/custom_modeling/flash_gemma3_modeling.py#L62-L83): P·H·4 B.
//
// The SigLIP tower's warm-up image (eager attention, ≈ 1 GB transient at
// 16 heads over 4096 patches) runs before the text forward, whose larger
// allocations reuse its segments; it is left out.
func gemma3PrefillExtra(m Model, p, maxS int, prof tgiProfile) Bytes {
	if m.Type != "gemma3" || !prof.v.AtLeast(3, 2, 0) {
		return 0
	}
	pp := int64(p)
	masks := pp * pp * 81 / 8
	rotary := int64(m.Layers) * 2 * int64(maxS) * int64(m.HeadSize()/2) * 2
	norm := pp * int64(m.Hidden) * 4
	return Bytes(masks + rotary + norm)
}

// weightPlan is the per-shard weight computation.
type weightPlan struct {
	computeBits int    // bits of the float compute dtype (16 unless --dtype float32)
	quantize    string // --quantize applied at load to float linears
	// preBits and loadBits are a float linear's bits·16 for the
	// checkpoint's quant_method (preQuantBits16) and for --quantize
	// (onLoadQuantBits16), 0 for none.
	preBits, loadBits int
	layers            int
	llamaFamily       bool // served by flash_llama_modeling (no_fp8 on attention, first and last layers)
}

// llamaFamilyTypes use flash_llama_modeling.py, whose on-the-fly fp8 skips
// attention, embeddings, lm_head and the first and last layers
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L411, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L514, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L549, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L622, https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L646).
var llamaFamilyTypes = map[string]bool{"llama": true, "phi3": true, "granite": true, "baichuan": true}

// shardBytes returns one tensor group's bytes on the most loaded shard.
func (wp weightPlan) shardBytes(t *Tensor, elems int64, f nameFacts, ws, vocab int) int64 {
	kind := f.kind
	bits16 := t.DType.Bits() * 16
	n := t.N()
	if t.DType.IsFloat() && !f.scale {
		bits16 = wp.computeBits * 16
	}
	linear := (kind == column || kind == row) && !f.bias && !f.scale && len(t.Shape) >= 2
	var quantN int64
	quantBits := 0
	if linear && t.DType.IsFloat() {
		if wp.preBits > 0 {
			quantBits, quantN = wp.preBits, n
		} else if wp.loadBits > 0 {
			quantBits, quantN = wp.loadBits, n
			if wp.quantize == "fp8" && wp.llamaFamily {
				if f.selfAttn {
					quantN = 0
				} else if wp.layers > 2 {
					// Only layers 1 … L−2 are converted.
					quantN = n * int64(wp.layers-2) / int64(wp.layers)
				} else {
					quantN = 0
				}
			}
		}
	}
	size := func(e int64) int64 {
		plain := (e*int64(bits16)/16 + 7) / 8 * (n - quantN)
		q := (e*int64(quantBits)/16 + 7) / 8 * quantN
		return plain + q
	}
	w := int64(ws)
	switch kind {
	case column:
		return size(ceilDiv64(elems, w))
	case row:
		if f.bias {
			return size(elems)
		}
		return size(ceilDiv64(elems, w))
	case embedding:
		if len(t.Shape) == 2 {
			rows := ceilDiv64(t.Shape[0], w) + 1
			return size(rows * t.Shape[1])
		}
		return size(elems)
	case lmHead:
		v := vocab
		if len(t.Shape) >= 1 {
			v = int(t.Shape[0])
		}
		if v%ws == 0 {
			return size(elems / w)
		}
		return size(elems)
	}
	return size(elems)
}

// weightsPerShard returns the bytes of the most loaded shard (rank 0).
func weightsPerShard(m Model, tensors []Tensor, ws int, s Settings, computeBits int) (Bytes, error) {
	wp := weightPlan{computeBits: computeBits, quantize: strings.ToLower(s.Quantize), layers: m.Layers,
		llamaFamily: llamaFamilyTypes[m.Type]}
	if m.QuantMethod != "" && !tensorsQuantized(tensors) {
		wp.preBits, _ = preQuantBits16(strings.ToLower(m.QuantMethod))
	}
	wp.loadBits, _ = onLoadQuantBits16(wp.quantize)
	var total int64
	var c tally
	hasHead := false
	embed := -1
	for i, f := range tensorFacts(tensors) {
		if f.layer >= m.Layers && m.Layers > 0 {
			continue // a layer TGI never builds (LoadedTensors)
		}
		switch f.kind {
		case lmHead:
			hasHead = true
		case embedding:
			if embed < 0 {
				embed = i
			}
		}
		total += wp.shardBytes(&tensors[i], c.elements(&tensors[i]), f, ws, m.Vocab)
	}
	if e := embed; !hasHead && e >= 0 && len(tensors[e].Shape) == 2 {
		// Tied embeddings: the lm_head loads the embedding tensor again as a
		// separate device tensor
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/custom_modeling/flash_llama_modeling.py#L636-L651,
		// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/utils/weights.py#L210-L266),
		// split on the vocab when it divides.
		head := Tensor{Name: "lm_head.weight", DType: tensors[e].DType, Shape: tensors[e].Shape}
		total += wp.shardBytes(&head, head.Elements(), nameFacts{kind: lmHead, layer: -1}, ws, m.Vocab)
	}
	return Bytes(total), c.err(tensors)
}
