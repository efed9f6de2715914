// Package estimate is vramcalc's pure core: given a model's architecture
// (Model), the GPUs (Hardware), the engine release (Engine) and the launch
// limits (Settings), Run returns the per-GPU memory breakdown, what the
// engine does at startup with those limits, and the largest limits that
// start (Result).
//
// # Layout
//
// One file holds one engine's whole startup sizing and boundary search:
//
//   - tgi.go: text-generation-inference v1.0 – v3.3.x: the launcher's
//     defaults per release (v3's compute- and VRAM-based prefill default),
//     the attention backend and its KV block size, the warm-up batch that
//     splits max_batch_prefill_tokens into requests that each reserve KV for
//     a full-length request, the prefill activation peak, the wiggle room
//     whose meaning changed at v3.0, the router checks after warm-up, TGI's
//     tensor sharding of the weights, and the searches for the largest
//     max_total_tokens and max_batch_prefill_tokens.
//   - vllm.go: vLLM V0 (v0.2 – v0.10) and V1 (v0.7 – v0.32.x; v0.22 –
//     v0.32 with v0.21's profiling, said in a warning): the budget formula
//     of each release, the profile run's forward and sampler peaks, batch
//     defaults, block rounding and the max_model_len check, and the search
//     for the largest max_model_len; vllm_groups.go: the hybrid KV cache
//     groups, state pages and the max_num_seqs state check; vllm_spec.go:
//     a speculative draft; vllm_encoder.go: the multimodal encoder's
//     profile.
//   - sglang.go: SGLang v0.1 – v0.5.x: mem_fraction_static and its defaults
//     per era, the KV pool, the largest context length; sglang_state.go: the
//     v0.5.18 state pool, indexer cell and multimodal reservation;
//     sglang_spec.go: a speculative draft.
//
// layers.go names the layer kinds a model's cache-holding modules have and
// which engines size which; synth_hybrid.go and synth_vision.go derive the
// weights of hybrid layouts and vision towers from config.json.
//
// What they share is named for what it is: engine.go (Run, the engine
// registry and release ranges), settings.go (Settings and the one input
// validation), result.go (Breakdown, Startup, Boundary, Result),
// failure.go (the failure kinds estimate predicts and probe observes),
// model.go (Model, DType, Tensor), tensors.go (how tensors shard and what
// quantized ones weigh), synth.go (tensors derived from config.json),
// serving.go (what vLLM and SGLang do alike: tensor parallelism, dtypes,
// weights per rank, the forward's activations), kv.go (KV bytes per token;
// kvformat.go the block-scaled and per-token-head formats),
// speculative.go (a draft's weights and KV, both engines),
// search.go (the boundary searches), corrections.go (calibrated adjustments),
// limits.go (what Run refuses as beyond physical sense before any
// arithmetic, ErrImplausible, and the check that no byte figure of a
// result wrapped, ErrOverflow).
//
// Each engine implements one small interface (sizer in engine.go); Run and
// KVBytesPerToken pick it by name and nothing else switches on the engine.
// Engines lists them with their default release and the releases modelled;
// a release outside that range is refused the same way for every engine
// (ReleaseError, errors.Is ErrUnsupported).
//
// Every constant taken from an engine cites the upstream source at a pinned
// tag with line numbers, or a document in this repository (docs/).
//
// What it deliberately does not do: no I/O of any kind (network, files,
// environment, clock, printing), and nothing beyond the standard library (a
// test enforces it). Reading config.json and safetensors headers is package
// hfmeta's job; calibration of the runtime terms (CUDA context, NCCL,
// allocator factor) is package calibrate's.
package estimate
