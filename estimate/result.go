package estimate

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

// Total is the memory in use on the GPU once the engine serves: weights, KV
// pool, overhead and CUDA graphs. The activation peak is transient and the
// reserve unallocated, so neither counts.
func (b Breakdown) Total() Bytes { return b.Weights + b.KVCache + b.Overhead() + b.CUDAGraphs }

// unallocated is what a card of total bytes keeps beyond Total (0 when full).
func (b Breakdown) unallocated(total Bytes) Bytes { return max(0, total-b.Total()) }

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

	// slack is how far the start is from failing, in bytes (negative when
	// it fails): the boundary searches interpolate on it.
	slack float64
}

// Boundary is the largest set of limits that starts.
type Boundary struct {
	// MaxInputTokens is MaxTotalTokens − 1, or the given --max-input-tokens
	// (TGI; vLLM and SGLang have no separate input limit: total − 1).
	MaxInputTokens int
	// MaxTotalTokens is the largest --max-total-tokens (vLLM
	// --max-model-len, SGLang --context-length) that starts with the
	// version's default prefill and MaxInputTokens; Result.Assumptions says so.
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
	// MaxNumSeqs is the largest --max-num-seqs that starts with the
	// resolved max_model_len for a vLLM model with state layers, whose
	// start refuses more sequences than the pool has blocks (0 otherwise).
	MaxNumSeqs int
	// LimitedBy names the term that stops MaxTotalTokens from growing:
	// "warmup" (warm-up KV + prefill peak), "max_position_embeddings",
	// "weights", or "state_blocks" (vLLM: --max-num-seqs above the state
	// pool's blocks at every length).
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
	// WeightsFrom says where the weight bytes came from: one of the
	// WeightsFrom* labels (safetensors headers, the catalog, config.json).
	WeightsFrom string
	// Startup is the outcome with the given (or defaulted) settings.
	Startup Startup
	// Boundary is the largest limits that start.
	Boundary Boundary
	// Assumptions state what the figures take for granted: first what the
	// boundary assumes of the input length and the prefill.
	Assumptions []string
	// Warnings are things the user should know (engine hazards, unmodelled parts).
	Warnings []string
	// LayerKinds counts the model's cache-holding modules per kind
	// (Model.CacheKinds).
	LayerKinds LayerCounts
	// StateBytesPerSequence is the state one running request holds on one
	// GPU, as the engine pads and multiplies it (0 without state layers).
	StateBytesPerSequence Bytes
	// MaxConcurrentSequences is how many sequences the state pool lets run
	// at once with the resolved settings (0 without state layers or when
	// the start fails).
	MaxConcurrentSequences int
	// unmodelled is what the engine's sizer found it does not size for this
	// start (vLLM's encoder profiling); rateConfidence adds it.
	unmodelled []string
	// Confidence is ConfidenceHigh when every memory-relevant feature of
	// the model is sized, ConfidenceLow when one is not (Model.Unmodelled,
	// a vision tower whose weights only config.json describes): then the
	// warnings and assumptions name what was guessed.
	Confidence string
}

// Result.Confidence values.
const (
	ConfidenceHigh = "high"
	ConfidenceLow  = "low"
)
