// Package estimate is vramcalc's pure core: given a model's architecture
// (Model), the GPUs (Hardware), the engine release (Engine) and the launch
// limits (Settings), Run returns the per-GPU memory breakdown, what the
// engine does at startup with those limits, and the largest limits that
// start (Result).
//
// It models text-generation-inference (TGI) v1.x – v3.3.x: the launcher's
// defaults per release (including v3's compute- and VRAM-based prefill
// default), the attention backend and its KV block size, the warm-up batch
// that splits max_batch_prefill_tokens into requests that each reserve KV
// for a full-length request, the prefill activation peak, the wiggle room
// whose meaning changed at v3.0, and the router checks after warm-up. Every
// constant taken from TGI cites tag:path:line in
// github.com/huggingface/text-generation-inference.
//
// It also models vLLM (V0 from v0.2, V1 from v0.7: the budget formula of
// each release, the profile run's forward and sampler peaks, batch
// defaults, block rounding and the max_model_len check; vllm.go) and SGLang
// (the mem_fraction_static pool and its defaults per era; sglang.go), with
// the same Result fields.
//
// What it deliberately does not do: no I/O of any kind (network, files,
// environment, clock, printing), and nothing beyond
// the standard library (a test enforces it). Reading config.json and
// safetensors headers is package hfmeta's job; calibration of the runtime
// terms (CUDA context, NCCL, allocator factor) is package calibrate's.
package estimate