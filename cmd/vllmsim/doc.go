// Command vllmsim simulates vLLM v0.21.0's OpenAI server (`vllm serve`)
// as a container, so that `vramcalc validate` and `vramcalc load` can run
// end to end without GPUs. It parses `vllm serve`'s command line, plays
// the engine core's start with its log lines, refusals and exit codes,
// sizes the KV pool from a ground-truth memory model whose coefficients
// the estimator does not see, and then serves the API with a continuous-
// batching scheduler over that pool. It does not run a model: generated
// text is a fixed word sequence. Everything here is written from vLLM's
// source (docs/ENGINE-SURFACE.md §A), never from package estimate.
//
// # Command line
//
//	vllm serve [MODEL] [--model M] [--max-model-len N|auto|-1] [--gpu-memory-utilization F]
//	    [--max-num-seqs S] [--max-num-batched-tokens B] [--tensor-parallel-size T | -tp T]
//	    [--kv-cache-dtype auto|bfloat16|fp8|fp8_e4m3|fp8_e5m2|…] [--block-size N] [--enforce-eager]
//	    [--quantization fp8] [--kv-cache-memory-bytes N] [--served-model-name X]
//	    [--host H] [--port P] [--revision R] [--download-dir D] [--disable-log-stats]
//
// The image's entrypoint is `vllm serve`, as vllm/vllm-openai's, so the
// container arguments are the model and the flags. Lengths take vLLM's
// human-readable forms (8k = 8000, 8K = 8192). A few more of vLLM's flags
// (--dtype, --seed, --trust-remote-code, --enable-prefix-caching, …) are
// accepted and change nothing; any other is argparse's "vllm serve: error:
// unrecognized arguments: …" on stderr with exit code 2. Defaults: the
// model Qwen/Qwen3-0.6B, utilization 0.92, block size 16, port 8000 on
// every interface, max_num_seqs 1024 and max_num_batched_tokens 8192 on a
// device of at least 70 GiB that is not an A100 (else 256 and 2048), the
// batched tokens capped at max_num_seqs × max_model_len.
//
// The model comes from simkit.ResolveModel: SIM_MODEL, MODEL as a
// directory, the Hugging Face cache (--download-dir, HF_HUB_CACHE,
// HF_HOME, $HOME/.cache/huggingface), or the embedded catalog; otherwise
// the hub's RepositoryNotFoundError and exit code 1.
//
// # Environment
//
// The SIM_* variables of package simkit. vLLM's defaults of the hidden
// coefficients: SIM_EXTRA_OVERHEAD_BYTES 384 MiB (the non-torch memory the
// profiler sees grow), SIM_CUDA_CONTEXT_BYTES 512 MiB (resident before the
// worker's init snapshot), SIM_ACTIVATION_FACTOR 1.2. The image sets
// SIM_GPUS_PORT=9400.
//
// # The ground-truth memory model (per GPU rank, T = tensor-parallel size)
//
//	requested   = ⌈total × util⌉                                   (utils.py request_memory)
//	free        = total − context;  refused when free < requested  ("Free memory on device …")
//	weights     = ⌈weights_bytes / T⌉ (--quantization fp8 halves all but the embeddings and lm_head)
//	              load fails ("Failed to load model - not enough GPU memory", torch OOM) if context + weights > total
//	non_torch   = SIM_EXTRA_OVERHEAD_BYTES + jitter(rank)
//	act/token   = 2·(2·H + max((2·nh/T + 2·max(Hkv/T, 1))·hd, 3·Im/T))
//	peak        = ⌈SIM_ACTIVATION_FACTOR × max(B·act/token, min(S, B)·V·4·3)⌉      (profile_run: forward, sampler)
//	              torch OOM if context + non_torch + weights + peak > total
//	sizes       = 1, 2, 4, 8…248 by 8, 256… by 16, up to min(2·S, 512, B), plus B when below
//	graph_est   = max(first(PIECEWISE), first(FULL)) + 4 MiB × (#sizes − 1) + 4 MiB × (#sizes ≤ S − 1),
//	              first(mode) = round(largest·act/token) + 4 MiB; 0 with --enforce-eager
//	available   = requested − (non_torch + peak + weights) − graph_est   (gpu_worker.py determine_available_memory)
//	              (--kv-cache-memory-bytes replaces it)
//	page        = 2 · block_size · max(Hkv/T, 1) · hd · kv_elt          (one layer's K and V per block)
//	needed(n)   = ⌈n / block_size⌉ · page · L
//	refusals    = available ≤ 0: "No available memory for the cache blocks…";
//	              needed(max_model_len) > available: "To serve at least one request with the models's max seq len (N),
//	              (X GiB KV cache is needed, … the estimated maximum model length is E. …", E by vLLM's binary search
//	num_blocks  = ⌊min over ranks of available / page / L⌋
//	concurrency = num_blocks / ⌈max_model_len / block_size⌉;  KV tokens = ⌊concurrency × max_model_len⌋
//	graphs      = graph_est + SIM_CUDA_GRAPH_EXTRA_BYTES; torch OOM at capture if context + non_torch + weights
//	              + num_blocks·page·L + graphs > total
//	serving     = context + non_torch + weights + num_blocks·page·L + graphs
//
// round() is PyTorch's caching-allocator rounding (2 MiB segments). GET
// /sim/gpus follows the start: context, then the weights, the profile
// peak, the pool, the graphs; 0 after a failure or shutdown.
//
// # Logs and exits
//
// Lines look like vLLM's: "(EngineCore pid=N) INFO MM-DD HH:MM:SS
// [gpu_worker.py:462] Available KV cache memory: 54.15 GiB". In order:
// "non-default args", "vLLM server version 0.21.0, serving model M",
// "Initializing a V1 LLM engine", "Loading weights took", "Model loading
// took X GiB memory and S seconds", "Available KV cache memory: X GiB", the
// CUDA-graph profiling note, "GPU KV cache size: N tokens" (N =
// ⌊concurrency × max_model_len⌋, comma-grouped), "Maximum concurrency for
// M tokens per request: C.CCx", "Graph capturing finished in S secs, took
// X GiB", "CUDA graph pool memory: …", "init engine … took", "Starting vLLM
// server on http://H:P", the routes, then uvicorn's "(APIServer pid=N)
// INFO:     Application startup complete." once serving. A failed start
// logs "EngineCore failed to start." with a traceback ending in the
// ValueError or torch.OutOfMemoryError, then the API server's
// "RuntimeError: Engine core initialization failed. …" and exits 1;
// configuration errors (max_model_len above the model's, heads not
// divisible by T, max_num_batched_tokens below max_num_seqs) exit 1 from
// the API server. SIGTERM or SIGINT shut down gracefully with exit code 0.
//
// # Serving
//
//	GET  /health                200, or 503 once the engine died
//	GET  /metrics               vllm:num_requests_running, vllm:num_requests_waiting, vllm:kv_cache_usage_perc,
//	                            vllm:num_preemptions_total, vllm:prompt_tokens_total, vllm:generation_tokens_total,
//	                            vllm:request_success_total, vllm:cache_config_info{…num_gpu_blocks="N",block_size="16"…}
//	                            with model_name and engine="0" (nothing with --disable-log-stats)
//	POST /tokenize              {prompt | messages, add_special_tokens} → {count, max_model_len, tokens, token_strs}
//	POST /v1/completions        simkit's OpenAI layer: stream, stream_options.include_usage, max_tokens (16), …
//	POST /v1/chat/completions   an image part counts 576 tokens; max_tokens defaults to what the context leaves
//	GET  /v1/models, /version, /sim/gpus
//
// A request whose prompt leaves less than max_tokens in max_model_len gets
// vLLM's 400 "This model's maximum context length is N tokens. However, you
// requested …". The scheduler runs at most max_num_seqs requests, computes
// at most max_num_batched_tokens tokens per SIM_TOKEN_DELAY step (longer
// prompts prefill in chunks), takes blocks of the pool as contexts grow and
// preempts the latest admitted request when they run out
// (vllm:num_preemptions_total). With SIM_LEAK_BYTES_PER_REQUEST every
// finished request grows each rank's memory; the request that would pass
// the card's total makes the engine core log "EngineCore encountered a
// fatal error." with torch's CUDA OOM, every request fails, /health
// answers 503, the memory is released, and after the 5 s watchdog the API
// server logs "Engine failed, terminating server." and exits 0 (UNCERTAIN:
// not observed on a real container; uvicorn returns normally).
//
// # Image
//
//	cmd/vllmsim/build-image.sh [TAG]     # CGO_ENABLED=0 go build, then FROM scratch docker build (default vramcalc/vllmsim:dev)
//	docker run --rm -d -p 127.0.0.1::8000 -p 127.0.0.1::9400 -e SIM_GPU_TOTAL_BYTES=24GiB vramcalc/vllmsim:dev \
//	    meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192 --gpu-memory-utilization 0.9
package main
