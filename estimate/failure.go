package estimate

// Failure kinds: why an engine start fails. This is the one list vramcalc
// uses: estimate predicts the first group (Startup.Failure) and probe records
// every kind a real launch can end with (Observation.Failure), so a
// prediction and an observation compare by value.
const (
	// FailureWeights: the weights (with the CUDA context) do not fit on a GPU.
	FailureWeights = "weights_do_not_fit"
	// FailureWarmupOOM: the warm-up or profile run runs out of memory (TGI's
	// "Not enough memory to handle N prefill tokens", vLLM's sampler warm-up OOM).
	FailureWarmupOOM = "warmup_oom"
	// FailureNotEnoughMemory: after the warm-up the KV budget cannot hold
	// max_total_tokens (TGI's "Not enough memory to handle `max_total_tokens=N`";
	// SGLang's "Not enough memory. Please try to increase --mem-fraction-static").
	FailureNotEnoughMemory = "not_enough_memory"
	// FailureArgumentValidation: the engine rejects the flags themselves
	// (TGI's `Error: ArgumentValidation(…)`, a launcher or router check, an
	// unknown or invalid flag).
	FailureArgumentValidation = "argument_validation"
	// FailureWarmupOverflow: TGI v2.4.1+ given --max-total-tokens but not
	// --max-input-tokens with a prefill larger than the total: the router's
	// `max_total_tokens - truncate` wraps around in u32
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/client/grpc_client.rs#L151-L152;
	// docs/ENGINES-REVIEW.md N2; derived from the code, not run).
	FailureWarmupOverflow = "warmup_u32_overflow"
	// FailureCannotServe: TGI starts, but its KV budget less the block the
	// router keeps for health checks cannot hold one request of max_total_tokens.
	FailureCannotServe = "cannot_serve"
	// FailureMaxModelLen: vLLM refuses to start because one request of
	// max_model_len does not fit the KV budget ("To serve at least one
	// request with the models's max seq len …"; V0: "The model's max seq len
	// (L) is larger than the maximum number of tokens that can be stored in
	// KV cache").
	FailureMaxModelLen = "max_model_len_exceeds_kv_cache"
	// FailureNoKVMemory: vLLM's budget is zero or less after the weights and
	// the profiled peak ("No available memory for the cache blocks").
	FailureNoKVMemory = "no_kv_cache_memory"
	// FailureGPUMemoryUtilization: vLLM V1 (≥ v0.9.1) refuses a
	// --gpu-memory-utilization larger than the free memory at start.
	FailureGPUMemoryUtilization = "gpu_memory_utilization_exceeds_free_memory"
	// FailureStateBlocks: vLLM (≥ v0.20) refuses to capture full CUDA graphs
	// of a model with state layers when --max-num-seqs exceeds the pool's
	// blocks ("max_num_seqs (N) exceeds available Mamba cache blocks (M)").
	FailureStateBlocks = "max_num_seqs_exceeds_state_blocks"

	// Kinds only a real launch shows (probe); the estimate never predicts them.

	// FailureCUDAOOM: a CUDA out-of-memory error outside the warm-up.
	FailureCUDAOOM = "cuda_oom"
	// FailureDownload: the model could not be downloaded (gated, not found, network).
	FailureDownload = "download"
	// FailureHealthTimeout: the server did not answer its health check in time.
	FailureHealthTimeout = "health_timeout"
	// FailureCrash: the engine exited for a reason none of the other kinds name.
	FailureCrash = "crash"
	// FailureRequests: the server started, but a request it accepted failed
	// (a 5xx answer or a dropped connection, e.g. an OOM in decode).
	FailureRequests = "requests"
)

// FailureKinds lists every failure kind, predicted ones first.
var FailureKinds = []string{
	FailureWeights, FailureWarmupOOM, FailureNotEnoughMemory, FailureArgumentValidation,
	FailureWarmupOverflow, FailureCannotServe, FailureMaxModelLen, FailureNoKVMemory,
	FailureGPUMemoryUtilization, FailureStateBlocks, FailureCUDAOOM, FailureDownload, FailureHealthTimeout, FailureCrash, FailureRequests,
}
