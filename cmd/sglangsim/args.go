package main

import (
	"github.com/vramcalc/vramcalc/internal/simkit"
)

// Args are sglang.launch_server's server arguments the simulator reads;
// the rest are accepted and ignored.
type Args struct {
	ModelPath          string
	ServedName         string
	ContextLength      int     // 0: derived from the model
	MemFractionStatic  float64 // 0: SGLang's heuristic
	ChunkedPrefillSize int     // 0: by device memory
	MaxRunningRequests int     // 0: from the pool
	MaxTotalTokens     int     // 0: no cap
	TP                 int
	PageSize           int
	KVDType            string
	Host               string
	Port               int
	EnableMetrics      bool
	DisableCUDAGraph   bool
	CUDAGraphMaxBS     int
	Revision           string
	DownloadDir        string
}

// defaultArgs are v0.5.18's defaults: host 127.0.0.1, port 30000
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/server_args.py#L1277-L1278),
// page size 1 on CUDA, kv_cache_dtype auto, tp 1 (docs/ENGINE-SURFACE.md §B5).
func defaultArgs() *Args {
	return &Args{TP: 1, PageSize: 1, KVDType: "auto", Host: "127.0.0.1", Port: 30000}
}

// cli is sglang.launch_server's argparse (prog launch_server.py).
var cli = &simkit.Argparse[Args]{Flags: flags, Ignored: ignored, IgnoredSwitches: ignoredBools,
	Usage: "usage: launch_server.py [-h] --model-path MODEL_PATH [options]", Prog: "launch_server.py"}

var flags = map[string]simkit.Flag[Args]{
	"--model-path":           simkit.StrFlag(func(a *Args) *string { return &a.ModelPath }),
	"--model":                simkit.StrFlag(func(a *Args) *string { return &a.ModelPath }),
	"--served-model-name":    simkit.StrFlag(func(a *Args) *string { return &a.ServedName }),
	"--context-length":       simkit.IntFlag(func(a *Args) *int { return &a.ContextLength }),
	"--chunked-prefill-size": simkit.IntFlag(func(a *Args) *int { return &a.ChunkedPrefillSize }),
	"--max-running-requests": simkit.IntFlag(func(a *Args) *int { return &a.MaxRunningRequests }),
	"--max-total-tokens":     simkit.IntFlag(func(a *Args) *int { return &a.MaxTotalTokens }),
	"--tp-size":              simkit.IntFlag(func(a *Args) *int { return &a.TP }),
	"--tp":                   simkit.IntFlag(func(a *Args) *int { return &a.TP }),
	"--tensor-parallel-size": simkit.IntFlag(func(a *Args) *int { return &a.TP }),
	"--page-size":            simkit.IntFlag(func(a *Args) *int { return &a.PageSize }),
	"--port":                 simkit.IntFlag(func(a *Args) *int { return &a.Port }),
	"--cuda-graph-max-bs":    simkit.IntFlag(func(a *Args) *int { return &a.CUDAGraphMaxBS }),
	"--kv-cache-dtype":       simkit.StrFlag(func(a *Args) *string { return &a.KVDType }),
	"--host":                 simkit.StrFlag(func(a *Args) *string { return &a.Host }),
	"--revision":             simkit.StrFlag(func(a *Args) *string { return &a.Revision }),
	"--download-dir":         simkit.StrFlag(func(a *Args) *string { return &a.DownloadDir }),
	"--mem-fraction-static":  simkit.FloatFlag(func(a *Args) *float64 { return &a.MemFractionStatic }),
	"--enable-metrics":       simkit.SwitchFlag(func(a *Args) *bool { return &a.EnableMetrics }, true),
	"--disable-cuda-graph":   simkit.SwitchFlag(func(a *Args) *bool { return &a.DisableCUDAGraph }, true),
}

// ignored take a value and change nothing simulated; ignoredBools are
// switches that change nothing.
var ignored = map[string]bool{
	"--dtype": true, "--quantization": true, "--mamba-ssm-dtype": true, "--max-prefill-tokens": true,
	"--speculative-algorithm": true, "--speculative-draft-model-path": true, "--speculative-num-steps": true,
	"--speculative-eagle-topk": true, "--speculative-num-draft-tokens": true, "--attention-backend": true,
	"--log-level": true, "--random-seed": true, "--tokenizer-path": true, "--api-key": true,
}

var ignoredBools = map[string]bool{
	"--trust-remote-code": true, "--skip-server-warmup": true, "--disable-radix-cache": true,
	"--enable-torch-compile": true, "--disable-overlap-schedule": true,
}

// parseArgs reads the server arguments after `-m sglang.launch_server`.
func parseArgs(argv []string) (*Args, error) {
	a := defaultArgs()
	if _, _, err := cli.Parse(a, argv); err != nil {
		return nil, err
	}
	if a.ModelPath == "" {
		return nil, cli.Fail("the following arguments are required: --model-path/--model")
	}
	if a.ServedName == "" {
		a.ServedName = a.ModelPath
	}
	return a, nil
}
