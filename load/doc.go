// Package load summarizes a load test of a serving engine (issue 12 §3):
// per concurrency level the TTFT and inter-token latency percentiles,
// throughput, errors and the cost per million output tokens (Summarize),
// and whether the GPU memory timeline shows a steady growth that ends in
// an out-of-memory (Trend). It is arithmetic on values a driver collected;
// it does not send requests, read NVML or print. The client that drives a
// server and samples memory every 100 ms is not written yet.
package load
