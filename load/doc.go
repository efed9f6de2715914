// Package load drives a serving engine that already runs and measures it
// under load (issue 12 §3): Run sends token-exact streaming requests at a
// sweep of concurrency levels (vLLM and SGLang: /v1/completions with
// min_tokens and ignore_eos, the exact count from usage; TGI:
// /generate_stream and its details), samples GPU memory (an nvml.Sampler)
// and the engine's KV usage and running / waiting / preempted requests
// (its /metrics) every 100 ms into a JSONL or CSV timeline written as it
// goes, and reports per level the TTFT and inter-token latency
// percentiles, throughput, errors and cost per million output tokens
// (Summarize), set against a prediction (Predicted). Failures are a server
// that stops answering after it served (runtime_oom), a steady growth of
// used memory (Trend, memory_trend) and a level's error rate above a
// threshold (errors).
//
// Request lengths are fixed or drawn from a seeded distribution (Lengths:
// uniform or lognormal), with one exact prompt per length built before the
// run.
//
// It does not start the engine (`validate --load` is not wired yet), does
// not print, and does not import probe: each engine's HTTP surface is
// here, cited from docs/ENGINE-SURFACE.md and TGI's source.
package load
