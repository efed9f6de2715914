// Package simkit is what the simulators (cmd/tgisim, cmd/vllmsim,
// cmd/sglangsim) share: the SIM_* environment (Env, and LoadEnv with its
// variable parsers for an engine's own environment struct), the simulated
// GPUs and their GET /sim/gpus endpoint (GPUs, read by nvml.SimSampler),
// the model description (ResolveModel: SIM_MODEL,
// a local directory, the Hugging Face cache, an embedded catalog), a
// deterministic toy tokenizer (Tokenize), a continuous-batching scheduler
// over a KV block pool with admission, a waiting queue, a running cap and
// counted preemptions (Scheduler), the OpenAI-compatible HTTP layer (API:
// /v1/completions and /v1/chat/completions, whole or streamed, and
// /v1/models), torch's CUDA OOM text (TorchOOM), the per-request memory
// leak that ends in a runtime OOM (Leak) and Python's printing of values
// (PyBool, PyFloat, PyInts). cmd/tgisim takes the model, the environment
// parsers, the GPUs and the torch helpers; its scheduler and HTTP API are
// TGI's own.
//
// It holds no engine's physics, flags, log lines or error texts: those
// stay in each command, written from that engine's source. It never
// imports package estimate: the simulators are the ground truth the
// estimator is tested against (internal/repocheck enforces it).
//
// # Environment
//
//	SIM_GPU_NAME                 device name in /sim/gpus (default "NVIDIA H100 80GB HBM3")
//	SIM_GPU_TOTAL_BYTES          device memory (default 85520809984 = 81559 MiB; "79.19GiB" works)
//	SIM_NUM_GPUS                 visible GPUs (default 1)
//	SIM_EXTRA_OVERHEAD_BYTES     the engine's non-torch memory per GPU (default per engine)
//	SIM_CUDA_CONTEXT_BYTES       memory in use before the engine's first reading (default per engine)
//	SIM_ACTIVATION_FACTOR        forward-pass peak over its live activations (default per engine)
//	SIM_JITTER_BYTES             per-launch, per-GPU uniform [0, J] added to the overhead (default 0)
//	SIM_SEED                     seed of the jitter (default: the clock)
//	SIM_GPUS_PORT                if set, GET /sim/gpus on this port from launch on (default off)
//	SIM_TOKEN_DELAY              one scheduler step, i.e. per generated token (default 2ms)
//	SIM_STARTUP_DELAY            time spent across the start's phases (default 200ms)
//	SIM_LEAK_BYTES_PER_REQUEST   memory each finished request leaves behind; past the card's
//	                             total the engine logs torch's CUDA OOM and dies (default 0)
//	SIM_CUDA_GRAPH_EXTRA_BYTES   CUDA-graph memory beyond what the engine measured when it sized
//	                             the pool, so capture can run out of memory after it (default 0)
package simkit
