package estimate

import (
	"fmt"
	"strconv"
	"strings"
)

// Bytes is a byte count. Its String method uses binary units (GiB = 2^30 B),
// the unit torch and the engines print.
type Bytes int64

// Binary units.
const (
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

// String formats b with two decimals in the largest binary unit below it.
func (b Bytes) String() string {
	v := float64(b)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	switch {
	case v >= float64(GiB):
		return fmt.Sprintf("%s%.2f GiB", sign, v/float64(GiB))
	case v >= float64(MiB):
		return fmt.Sprintf("%s%.2f MiB", sign, v/float64(MiB))
	case v >= float64(KiB):
		return fmt.Sprintf("%s%.2f KiB", sign, v/float64(KiB))
	}
	return fmt.Sprintf("%s%d B", sign, int64(v))
}

// GiBs returns b in GiB as a float.
func (b Bytes) GiBs() float64 { return float64(b) / float64(GiB) }

// GPU describes one accelerator model.
type GPU struct {
	// Name is the name nvidia-smi (or rocm-smi) prints, e.g. "NVIDIA H100 80GB HBM3".
	Name string
	// TotalBytes is the device total the CUDA runtime reports
	// (cudaMemGetInfo total, torch.cuda.get_device_properties().total_memory).
	TotalBytes Bytes
	// SMITotalMiB is nvidia-smi's memory.total in MiB, which TGI's launcher
	// reads for its prefill heuristic; 0 means TotalBytes/MiB.
	SMITotalMiB int
	// ComputeCapability is major*10+minor (90 for sm_90); 0 means unknown.
	ComputeCapability int
	// ROCm is true for AMD GPUs.
	ROCm bool
}

// Hardware is the set of GPUs one engine instance runs on.
type Hardware struct {
	GPU GPU
	// Count is the number of GPUs (TGI shards over all of them by default).
	Count int
}

// Engine selects the serving engine and its version.
type Engine struct {
	// Name is "tgi" (vLLM and SGLang come later).
	Name string
	// Version is a release such as "3.3.7", "3.3" (latest patch of 3.3) or "2.0.4".
	Version string
}

// Version is a parsed engine release.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "3.3.7", "v3.3", "2.0.4" and "3" (a missing minor or
// patch means the latest of that series, represented as 99).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(strings.ToLower(s)), "v")
	if i := strings.IndexAny(t, " -+("); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) == 0 || len(parts) > 3 || parts[0] == "" {
		return Version{}, fmt.Errorf("estimate: bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
	}
	v := Version{Minor: 99, Patch: 99}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("estimate: bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
		}
		switch i {
		case 0:
			v.Major = n
		case 1:
			v.Minor = n
		case 2:
			v.Patch = n
		}
	}
	return v, nil
}

// Less reports whether v is an earlier release than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// AtLeast reports whether v is o or later.
func (v Version) AtLeast(major, minor, patch int) bool {
	return !v.Less(Version{major, minor, patch})
}

// String prints the version, with "x" for a series wildcard.
func (v Version) String() string {
	p := func(n int) string {
		if n == 99 {
			return "x"
		}
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d.%s.%s", v.Major, p(v.Minor), p(v.Patch))
}

// Settings are the engine's launch limits, named after TGI's flags. Zero
// means "not given": the engine's own default for that version applies.
type Settings struct {
	// MaxInputTokens is --max-input-tokens (MAX_INPUT_TOKENS).
	MaxInputTokens int
	// MaxTotalTokens is --max-total-tokens (MAX_TOTAL_TOKENS).
	MaxTotalTokens int
	// MaxBatchPrefillTokens is --max-batch-prefill-tokens (MAX_BATCH_PREFILL_TOKENS).
	MaxBatchPrefillTokens int
	// MaxBatchSize is --max-batch-size; 0 means unlimited.
	MaxBatchSize int
	// CUDAMemoryFraction is --cuda-memory-fraction (CUDA_MEMORY_FRACTION); 0 means 1.0.
	CUDAMemoryFraction float64
	// NumShard is --num-shard; 0 means every GPU of the Hardware.
	NumShard int
	// DType is --dtype (float16 or bfloat16); "" means the engine default.
	DType DType
	// Quantize is --quantize (fp8, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4,
	// eetq, awq, gptq, marlin, exl2, compressed-tensors); "" means none or the
	// checkpoint's own quantization_config.
	Quantize string
	// KVCacheDType is --kv-cache-dtype (fp8_e4m3fn, fp8_e5m2); "" means the model dtype.
	KVCacheDType DType
	// Attention overrides the attention backend (env ATTENTION: flashinfer,
	// flashdecoding, paged); "" lets the engine choose.
	Attention string
	// Speculate is --speculate, extra tokens reserved per request.
	Speculate int
	// WiggleRoom overrides TGI_WIGGLE_ROOM; 0 means the version's default.
	WiggleRoom float64
	// PrefillLogprobs is --enable-prefill-logprobs (TGI ≥ 3.0).
	PrefillLogprobs bool
	// ExtraOverheadBytes is memory in use on each GPU beyond what the
	// estimator models (other processes, a larger CUDA context); negative
	// means less. validate's search and calibrate set it from observations.
	// TGI only for now.
	ExtraOverheadBytes Bytes
	// Corrections are fitted adjustments (vramcalc calibrate): the prefill
	// activation peak ×ActivationFactor, OverheadBytes more per GPU, and
	// Wiggle for the release's default. nil means none. TGI only for now.
	Corrections *Corrections

	// vLLM and SGLang settings (TGI ignores them). The tensor-parallel
	// degree is NumShard (vLLM --tensor-parallel-size, SGLang --tp-size) and
	// the KV dtype KVCacheDType for every engine.

	// GPUMemoryUtilization is vLLM's --gpu-memory-utilization; 0 means the release's default.
	GPUMemoryUtilization float64
	// MaxModelLen is vLLM's --max-model-len (SGLang --context-length); 0 means
	// the model's max_position_embeddings.
	MaxModelLen int
	// MaxNumBatchedTokens is vLLM's --max-num-batched-tokens; 0 means the release's default.
	MaxNumBatchedTokens int
	// MaxNumSeqs is vLLM's --max-num-seqs (SGLang --max-running-requests); 0 means the default.
	MaxNumSeqs int
	// BlockSize is vLLM's --block-size (SGLang --page-size); 0 means the default.
	BlockSize int
	// EnforceEager is vLLM's --enforce-eager: no CUDA graphs.
	EnforceEager bool
	// OfflineLLM selects the defaults of vLLM's offline LLM class instead of `vllm serve`.
	OfflineLLM bool
	// MemFractionStatic is SGLang's --mem-fraction-static; 0 means its default for the GPU and TP.
	MemFractionStatic float64
	// ChunkedPrefillSize is SGLang's --chunked-prefill-size; 0 means its default.
	ChunkedPrefillSize int

	// RequestInputTokens and RequestOutputTokens describe one request for the
	// concurrency figure; 0 means a full-length request (MaxInputTokens in,
	// the rest of MaxTotalTokens out).
	RequestInputTokens  int
	RequestOutputTokens int
}

// Breakdown is the memory of one GPU (the most loaded shard), by use.
type Breakdown struct {
	// Weights is the model's parameters on this shard.
	Weights Bytes
	// KVCache is the KV pool after warm-up (num_blocks × block bytes).
	KVCache Bytes
	// ActivationPeak is the caching allocator's reserved peak of the warm-up
	// prefill, beyond weights and KV.
	ActivationPeak Bytes
	// CUDAContext is the CUDA context, cuBLAS workspaces and kernel images.
	CUDAContext Bytes
	// NCCL is the communicator buffers when sharded.
	NCCL Bytes
	// Other is persistent buffers the engine allocates (attention workspaces, rotary caches).
	Other Bytes
	// CUDAGraphs is the memory held by captured decode graphs.
	CUDAGraphs Bytes
	// Reserve is memory the engine deliberately leaves unallocated (cuda_memory_fraction, wiggle room).
	Reserve Bytes
}

// Overhead returns CUDA context + NCCL + other persistent buffers.
func (b Breakdown) Overhead() Bytes { return b.CUDAContext + b.NCCL + b.Other }

// Startup is what happens when the engine starts with the resolved settings.
type Startup struct {
	// MaxInputTokens, MaxTotalTokens and MaxBatchPrefillTokens are the values
	// the engine ends up with (the user's or the version's defaults).
	MaxInputTokens        int
	MaxTotalTokens        int
	MaxBatchPrefillTokens int
	// MaxBatchTotalTokens is the KV token budget TGI logs as
	// "Setting max batch total tokens to N" (0 when startup fails).
	MaxBatchTotalTokens int
	// MaxConcurrentRequests is how many requests of the asked shape (or of
	// full length) fit in MaxBatchTotalTokens at once.
	MaxConcurrentRequests int
	// WarmupRequests is how many requests the warm-up prefill is split into.
	WarmupRequests int
	// WarmupBytes is the device memory in use at the warm-up peak (weights,
	// overhead, warm-up KV and the prefill activations).
	WarmupBytes Bytes
	// WarmupKVBytes is the KV the warm-up batch reserves before its prefill
	// (with the caching allocator's rounding).
	WarmupKVBytes Bytes
	// WarmupTokens is the KV tokens of those blocks (blocks × block size).
	WarmupTokens int
	// ActivationBytes is the prefill's activation peak (part of WarmupBytes).
	ActivationBytes Bytes
	// CapacityBytes is what the warm-up may use (the card, capped by cuda_memory_fraction).
	CapacityBytes Bytes
	// Fits is true when the engine is predicted to start and serve.
	Fits bool
	// Failure names why it would not start: "" when it fits, else one of the Failure* constants.
	Failure string
	// Message is the engine's own error text for Failure.
	Message string
	// LogLines are the lines the engine is predicted to print about sizing.
	LogLines []string
}

// Boundary is the largest set of limits that starts.
type Boundary struct {
	// MaxInputTokens is MaxTotalTokens − 1.
	MaxInputTokens int
	// MaxTotalTokens is the largest --max-total-tokens that starts with the
	// version's default prefill (and --max-input-tokens = total − 1).
	MaxTotalTokens int
	// MaxBatchPrefillTokens is the largest --max-batch-prefill-tokens that
	// starts with the resolved max input/total tokens.
	MaxBatchPrefillTokens int
	// PrefillAtMaxTotal is the --max-batch-prefill-tokens MaxTotalTokens was
	// found with: the user's, the release's default, or (when that default
	// does not start) a smaller one, said in a warning.
	PrefillAtMaxTotal int
	// MaxBatchTotalTokens is the KV budget at the boundary's max total tokens
	// and the resolved prefill.
	MaxBatchTotalTokens int
	// MaxConcurrentRequests is how many requests of the resolved request
	// shape fit in MaxBatchTotalTokens at once.
	MaxConcurrentRequests int
	// LimitedBy names the term that stops MaxTotalTokens from growing:
	// "warmup" (warm-up KV + prefill peak), "max_position_embeddings", or "weights".
	LimitedBy string
}

// Result is the estimate for one model, hardware, engine and settings.
type Result struct {
	// Engine is the engine with its version resolved.
	Engine Engine
	// NumShard is the tensor-parallel degree used.
	NumShard int
	// PerGPU is the memory breakdown of the most loaded shard with the resolved settings.
	PerGPU Breakdown
	// KVBytesPerToken is the KV cache per token on one shard.
	KVBytesPerToken Bytes
	// BlockSize is the KV block size in tokens for the attention backend.
	BlockSize int
	// Attention is the backend TGI picks (flashinfer, flashdecoding, paged).
	Attention string
	// PrefixCaching and Chunking report TGI's choices.
	PrefixCaching, Chunking bool
	// WeightsFrom says where weight bytes came from: "safetensors" or "config".
	WeightsFrom string
	// Startup is the outcome with the given (or defaulted) settings.
	Startup Startup
	// Boundary is the largest limits that start.
	Boundary Boundary
	// Warnings are things the user should know (assumptions, engine hazards).
	Warnings []string
}
