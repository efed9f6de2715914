// Command sglangsim simulates SGLang v0.5.18's server (`python3 -m
// sglang.launch_server`) as a container, so that `vramcalc validate` and
// `vramcalc load` can run end to end without GPUs. It plays the
// scheduler's start with SGLang's log lines, refusals and exit behaviour,
// sizes the token pool from a ground-truth memory model whose coefficients
// the estimator does not see, and serves the HTTP API with simkit's
// continuous-batching scheduler. Everything here is written from SGLang's
// source (docs/ENGINE-SURFACE.md §B), never from package estimate.
//
// # Command line
//
//	python3 -m sglang.launch_server --model-path M [--context-length N] [--mem-fraction-static F]
//	    [--chunked-prefill-size C] [--max-running-requests R] [--max-total-tokens T] [--tp-size T | --tp T]
//	    [--page-size P] [--kv-cache-dtype auto|fp8_e4m3|fp8_e5m2|bf16] [--cuda-graph-max-bs B]
//	    [--disable-cuda-graph] [--host H] [--port P] [--enable-metrics] [--served-model-name X]
//
// The image has no entrypoint of its own (as lmsysorg/sglang): its binary
// is /usr/bin/python3 and accepts only `-m sglang.launch_server`. Unknown
// flags are argparse's "launch_server.py: error: unrecognized arguments"
// with exit code 2. Defaults: host 127.0.0.1, port 30000, page size 1,
// chunked_prefill_size and the decode graphs' max_bs by device memory,
// mem_fraction_static from SGLang's heuristic, context length from the
// model.
//
// # Environment
//
// The SIM_* variables of package simkit. The memory in use before the
// weights is SIM_CUDA_CONTEXT_BYTES (default 0) + SIM_EXTRA_OVERHEAD_BYTES
// (default 512 MiB) + jitter; SIM_ACTIVATION_FACTOR defaults to 1.5.
//
// # The ground-truth memory model (GB = GiB, per rank)
//
//	before      = SIM_CUDA_CONTEXT_BYTES + SIM_EXTRA_OVERHEAD_BYTES + jitter(rank)
//	pre         = min over ranks of (total − before)                 ("Load weight begin. avail mem=pre GB")
//	weights     = ⌈weights_bytes / T⌉; torch OOM if before + weights > total
//	after       = pre − weights                                      ("Load weight end. … mem usage=weights GB.")
//	rest        = after − pre · (1 − mem_fraction_static); ValueError "Loaded weights leave no GPU memory …" if ≤ 0
//	cell        = max(Hkv/T, 1) · 2·hd · L · kv_size
//	tokens      = ⌊rest·2³⁰ / cell / page⌋ · page, capped by --max-total-tokens;
//	              RuntimeError "Not enough memory. Please try to increase --mem-fraction-static." if 0
//	K = V size  = (tokens + page) · max(Hkv/T, 1) · hd · kv_size · L    ("KV Cache is allocated. … #tokens: N, K size: X GB, V size: Y GB")
//	max_running = --max-running-requests, else max(min(⌊tokens/context·512⌋, 4096), 2048), both ≤ tokens/2
//	graphs      = round(max_bs·act/token) + 4 MiB · #bs + SIM_CUDA_GRAPH_EXTRA_BYTES (bs up to max_running);
//	              torch OOM at capture if before + weights + 2·K + graphs > total
//	act/token   = 2·(2·H + max((2·nh/T + 2·max(Hkv/T, 1))·hd, 3·Im/T))
//	warm-up     = round(SIM_ACTIVATION_FACTOR · chunk · act/token) must fit next to the static memory
//	              (the simulator checks the first full chunk at warm-up: "Initialization failed. warmup error: …")
//	mem_fraction_static default = round((gpu_mem − reserved)/gpu_mem, 3), reserved = 512 + max(chunk, 2048)·1.5
//	              + T/8·1024 + 2·max_bs MiB, at least 10 GiB above 60 GiB (prefill graphs assumed off: UNCERTAIN)
//
// # Logs and exits
//
// "[YYYY-MM-DD HH:MM:SS] Load weight begin/end …", "KV Cache is allocated.
// …", "Memory pool end. …", "Capture target decode CUDA graph begin/end
// …", "max_total_num_tokens=N, chunked_prefill_size=C, max_prefill_tokens=16384,
// max_running_requests=R, context_len=L, available_gpu_mem=X GB", uvicorn's
// "INFO:     Application startup complete.", then after the warm-up "The
// server is fired up and ready to roll!". A scheduler exception logs
// "Scheduler hit an exception: Traceback … Error: …" and "Received sigquit
// from a child process. It usually means the child failed.", then the
// process SIGKILLs itself and calls exit(0): 137 outside a container, 0 as
// PID 1 in one (docs/ENGINE-SURFACE.md §B3). A context length above the
// model's is a ValueError in the main process: exit 1. SIGTERM: exit 0.
//
// # HTTP API
//
//	GET  /health, /health_generate     503 until the warm-up succeeded, 200 after, 503 once the scheduler died
//	GET  /server_info, /get_server_info  resolved arguments, max_total_num_tokens, max_req_input_len, internal_states
//	GET  /metrics                      only with --enable-metrics: sglang:max_total_num_tokens, sglang:token_usage,
//	                                   sglang:num_running_reqs, sglang:num_queue_reqs, sglang:num_retracted_requests_total, …
//	POST /v1/tokenize, /tokenize       {prompt} → {tokens, count, max_model_len}
//	POST /v1/completions, /v1/chat/completions, GET /v1/models   simkit's OpenAI layer with SGLang's length errors
//	GET  /sim/gpus
//
// With SIM_LEAK_BYTES_PER_REQUEST the request that would pass the card's
// total makes the scheduler log torch's CUDA OOM and the process tree die
// as at a failed start.
package main
