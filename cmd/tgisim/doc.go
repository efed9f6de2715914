// Command tgisim simulates Hugging Face text-generation-inference (TGI)
// v3.3 as a container, so that `vramcalc validate` can be run end to end
// without GPUs. It parses text-generation-launcher's command line, plays
// the start of the launcher, the Python shards and the router with their
// log lines and exit codes, sizes the KV cache from a ground-truth memory
// model whose coefficients the estimator does not see, and then serves the
// router's HTTP API. It does not run a model: generated text is a fixed
// word sequence.
//
// # Command line
//
// Every field of v3.3.7's launcher Args is accepted as --flag VALUE,
// --flag=VALUE or its environment variable (MODEL_ID, PORT,
// MAX_INPUT_TOKENS, …; the flag wins), with clap's defaults (--port 3000;
// the image sets PORT=80) and clap's errors on stderr with exit code 2
// ("error: unexpected argument '--x' found", "error: invalid value …").
// The launcher's checks run in TGI's order with TGI's messages, printed as
// `Error: ArgumentValidation("…")` on stderr with exit code 1:
// --max-input-tokens with the deprecated --max-input-length, input ≥ total,
// total > --max-batch-total-tokens, --num-shard < 1, --sharded, exl2 with
// shards, --validation-workers 0, ngrok. Flags that only tune serving
// (waiting ratio, OTLP, CORS, …) are parsed and echoed in the Args line.
// The flags that act: --model-id, --revision, --num-shard, --sharded,
// --quantize, --speculate, --kv-cache-dtype, --max-input-tokens,
// --max-total-tokens, --max-batch-prefill-tokens, --max-batch-total-tokens,
// --max-batch-size, --cuda-graphs, --cuda-memory-fraction, --hostname,
// --port, --max-concurrent-requests, --max-stop-sequences,
// --max-top-n-tokens, --max-best-of, --payload-limit,
// --enable-prefill-logprobs, --huggingface-hub-cache. --dtype is validated
// (float16, bfloat16) and changes nothing: both are 2 bytes.
//
// # The model
//
// The model description comes from, in order:
//   - SIM_MODEL: inline JSON, or a path to a JSON file or to a model
//     directory. The compact JSON has the keys layers, hidden, heads,
//     kv_heads, head_dim, intermediate, vocab, max_position_embeddings,
//     weights_bytes (the checkpoint's tensor bytes, all shards), and
//     optionally id, model_type, tie_word_embeddings, vision, quant_method,
//     experts_per_token, shared_experts, local_experts; unknown keys are
//     errors.
//   - --model-id as a local directory: config.json, and the weights from
//     model.safetensors.index.json (metadata.total_size), else the
//     *.safetensors headers (header-only files work), else a Llama-shaped
//     parameter count.
//   - the Hugging Face cache (--huggingface-hub-cache, HUGGINGFACE_HUB_CACHE,
//     HF_HUB_CACHE, $HF_HOME/hub; HF_HOME=/data in the image):
//     models--org--name/refs/main → snapshots/<sha>/.
//   - a small embedded catalog (internal/simkit/catalog.json, the one
//     every simulator embeds: Llama 3.x 1B/8B/70B,
//     Mistral-7B-v0.3, Qwen2.5 0.5B/7B, TinyLlama, SmolLM2-135M).
//
// Otherwise the download fails as TGI's does without network
// (`Error: DownloadError`, exit 1).
//
// # The simulated GPU and the hidden coefficients
//
//	SIM_GPU_NAME                nvidia-smi name (default "NVIDIA H100 80GB HBM3"; "none": no nvidia-smi)
//	SIM_GPU_TOTAL_BYTES         device memory (default 85520809984 = 81559 MiB; "79.19GiB" works)
//	SIM_NUM_GPUS                visible GPUs, TGI's CUDA_VISIBLE_DEVICES (default 1)
//	SIM_GPU_COMPUTE_CAPABILITY  below 8.0 the attention fallback is paged (default 9.0)
//	SIM_EXTRA_OVERHEAD_BYTES    non-torch memory per GPU: CUDA context, cuBLAS, NCCL (default 896 MiB)
//	SIM_ACTIVATION_FACTOR       caching-allocator peak over the live prefill activations (default 1.4)
//	SIM_WIGGLE                  TGI_WIGGLE_ROOM's default (0.90, v3.3 semantics); TGI_WIGGLE_ROOM wins
//	SIM_JITTER_BYTES            per-launch, per-GPU uniform [0, J] added to the overhead (default 0)
//	SIM_SEED                    seed of the jitter (default: the clock, so every launch differs)
//	SIM_STARTUP_DELAY           half loading weights, half in warm-up (default 200ms)
//	SIM_TOKEN_DELAY             time per generated token (default 2ms)
//	SIM_GPUS_PORT               if set, GET /sim/gpus on this port from launch on (default off; 9400 in the image)
//	SIM_ECHO_ENV                variable names separated by spaces or commas (HF_TOKEN …) whose values the launcher logs as
//	                            "Environment: HF_TOKEN=… …" at start, once serving and at exit, as an engine that
//	                            prints its environment would (tests that tokens never reach vramcalc's results)
//
// TGI's own variables ATTENTION (flashinfer, flashdecoding, paged),
// PREFIX_CACHING and PREFILL_CHUNKING are honoured.
//
// # The ground-truth memory model (per GPU, ws = number of shards)
//
// Sizes of one shard (elt = 2 bytes, kv_elt = 1 with --kv-cache-dtype):
//
//	weights     = ⌈weights_bytes/ws⌉ + [tied]·V·H·2/ws
//	              (--quantize fp8/eetq/bitsandbytes halves, nf4/fp4 quarters the part beyond the 2·V·H·2/ws embeddings)
//	kv_heads    = Hkv/ws (Hkv when Hkv = 1); Llama-family models raise when Hkv % ws ≠ 0, all when heads % ws ≠ 0
//	layer_block = BS·kv_heads·head_dim·kv_elt            (one layer's K or V per block; BS = 1 flashinfer, 256 flashdecoding, 16 paged)
//	block       = 2·L·layer_block                        (TGI's total_cache_size)
//	kv(n)       = 2·L·round(n·layer_block)               (one tensor per layer for K and V)
//	act/token   = elt·max(3H + (2·nh + 2·Hkv)·hd/ws, 2H + 4·Im/ws)
//	round(x)    = x rounded up to 2 MiB above 1 MiB, else to 512 B (PyTorch's caching allocator)
//
// Start, following TGI v3.3.7 (docs/ENGINES.md §1.4, §2):
//
//	P           = --max-batch-prefill-tokens, or the launcher's default: compute-optimal
//	              f16_flops(card)·ws/flop(model) (> 100), else 4096, capped by
//	              max_position_embeddings and by the launcher's vram_maximum, with its logs
//	warm-up     = requests of min(I, P − n) tokens until P (or --max-batch-size requests);
//	              each maps prompt + max_new_tokens − 1 + speculate KV tokens, i.e. T − 1
//	              when T is set (T − prompt wraps in u32 when the prompt exceeds T) and the
//	              prompt when T is unset; warm_blocks = Σ⌈tokens/BS⌉
//	context     = SIM_EXTRA_OVERHEAD_BYTES + jitter
//	load        fails (shard cannot start) if weights > MF·total or context + weights > total
//	warm KV     fails (UnboundLocalError on num_tokens, TGI's bug) if
//	            weights + kv(warm_blocks) > MF·total or context + weights + kv(warm_blocks) > total
//	activation  = round(⌊SIM_ACTIVATION_FACTOR·tokens·act/token⌋ + rows·V·4),
//	              rows = requests (last-token logits), or tokens with --enable-prefill-logprobs
//	peak        = context + weights + kv(warm_blocks) + activation
//	prefill     fails ("Not enough memory to handle N prefill tokens") if peak > total or
//	            weights + kv(warm_blocks) + activation > MF·total
//	num_blocks  = ⌊max(0, total − peak − (1 − MF·W)·total) / block⌋ + warm_blocks    (per shard)
//	budget      = min over shards of num_blocks · BS       ("Setting max batch total tokens to N")
//	T, I        = user values, else T = min(budget, max_position_embeddings) with chunking
//	              (flashinfer/flashdecoding, no speculation, not a VLM), else T = prefill tokens;
//	              I = T − 1
//	router      NotEnoughMemory if T > budget; then I < T, P ≥ I without chunking, P ≤ budget
//	graphs      = round(bs·(V·4 + act/token) + bs·T·4) for the largest captured batch size bs;
//	              skipped with "Decode cuda graph warmup failed" if it does not fit
//	serving     = context + weights + kv(num_blocks) + graphs
//
// GET /sim/gpus reports per GPU: context, then context + weights, then the
// warm-up peak, then the serving memory; 0 on GPUs without a shard and
// after shutdown.
//
// # Logs and exits
//
// Lines look like TGI's (`2025-01-01T00:00:00.000000Z  INFO
// text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch
// total tokens to N`), with "Default `max_batch_prefill_tokens` to N",
// "KV-cache blocks: N, size: B" (rank 0's own count), "Maximum input/total
// tokens defaulted to N" and "Connected". A warm-up OOM prints "Method
// Warmup encountered an error." with the torch.OutOfMemoryError traceback,
// the router's "Server error: …" and `Error: Backend(Warmup(Generation("…")))`,
// then "Webserver Crashed", "Shutting down shards", "Shard complete standard
// error output:" and exits 1 with `Error: WebserverFailed` on stderr. A
// shard that cannot load prints "Error when initializing model", "Shard
// complete standard error output:", "Shard 0 failed to start", "Shutting
// down shards" and exits 1 with `Error: ShardCannotStart`. T above the
// budget prints `Error: Backend(NotEnoughMemory(T))`. SIGTERM or SIGINT
// shuts down gracefully with exit code 0.
//
// # HTTP API
//
// TGI's port opens only once the warm-up succeeded:
//
//	GET  /health                200, empty body
//	GET  /info                  v3 Info: model_id, max_input_tokens, max_total_tokens, version "3.3.7-sim", …
//	POST /tokenize              {"inputs": "..."} → [{id, text, start, stop}]: one token per
//	                            whitespace-separated word, id = FNV-1a(word) mod vocab, byte offsets
//	POST /generate              {"inputs", "parameters": {max_new_tokens, details, stop, truncate, …}}
//	POST /v1/chat/completions   OpenAI shape, no streaming; prompt "role: content" lines + "assistant:"
//	GET  /metrics               tgi_batch_max_total_tokens, tgi_batch_current_max_tokens,
//	                            tgi_batch_current_size, tgi_queue_size, tgi_request_count, …
//	GET  /sim/gpus              [{"index","uuid":"sim-N","name","total","used","free"}], bytes
//
// /generate validates like the v3.3.7 router, answering 422 with
// {"error": "Input validation error: …", "error_type": "validation"}: input +
// min(max_new_tokens, 1024) ≤ T, input ≤ I, max_new_tokens > 0, stop
// sequences, truncate, empty inputs; 429 past --max-concurrent-requests.
// A request holds ⌈(input + min(max_new_tokens, 1024) + speculate − 1)/BS⌉
// blocks of the budget (less block 0) while it generates at
// SIM_TOKEN_DELAY per token; requests that do not fit wait in a FIFO queue.
// Longer max_new_tokens continue in rounds of 1024 with the grown input, as
// TGI ≥ 3.1.1 does (so 1500 yields 2048 tokens). Generation never stops
// early: finish_reason is "length" unless a stop sequence matches.
// tgi_batch_current_max_tokens is Σ(input + max_new_tokens) of the running
// requests, as TGI's batch max_tokens. Prefix caching shares no blocks. On
// SIGTERM requests in flight are cancelled (500 "Incomplete generation").
//
// # Image
//
//	cmd/tgisim/build-image.sh [TAG]     # CGO_ENABLED=0 go build, then FROM scratch docker build (default vramcalc/tgisim:dev)
//	docker run --rm -d -p 127.0.0.1::80 -p 127.0.0.1::9400 -e SIM_GPU_TOTAL_BYTES=24GiB vramcalc/tgisim:dev \
//	    --model-id meta-llama/Llama-3.1-8B-Instruct --max-total-tokens 8192
package main
