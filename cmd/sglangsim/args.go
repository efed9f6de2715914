package main

import (
	"fmt"
	"strconv"
	"strings"
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

// usageError is argparse's error for `python -m sglang.launch_server`
// (prog launch_server.py), exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string {
	return "usage: launch_server.py [-h] --model-path MODEL_PATH [options]\nlaunch_server.py: error: " + e.msg + "\n"
}

type flagSpec struct {
	boolean bool
	set     func(a *Args, v string) error
}

func intFlag(dst func(*Args) *int) flagSpec {
	return flagSpec{set: func(a *Args, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("invalid int value: '%s'", v)
		}
		*dst(a) = n
		return nil
	}}
}

func strFlag(dst func(*Args) *string) flagSpec {
	return flagSpec{set: func(a *Args, v string) error { *dst(a) = v; return nil }}
}

var flags = map[string]flagSpec{
	"--model-path":           strFlag(func(a *Args) *string { return &a.ModelPath }),
	"--model":                strFlag(func(a *Args) *string { return &a.ModelPath }),
	"--served-model-name":    strFlag(func(a *Args) *string { return &a.ServedName }),
	"--context-length":       intFlag(func(a *Args) *int { return &a.ContextLength }),
	"--chunked-prefill-size": intFlag(func(a *Args) *int { return &a.ChunkedPrefillSize }),
	"--max-running-requests": intFlag(func(a *Args) *int { return &a.MaxRunningRequests }),
	"--max-total-tokens":     intFlag(func(a *Args) *int { return &a.MaxTotalTokens }),
	"--tp-size":              intFlag(func(a *Args) *int { return &a.TP }),
	"--tp":                   intFlag(func(a *Args) *int { return &a.TP }),
	"--tensor-parallel-size": intFlag(func(a *Args) *int { return &a.TP }),
	"--page-size":            intFlag(func(a *Args) *int { return &a.PageSize }),
	"--port":                 intFlag(func(a *Args) *int { return &a.Port }),
	"--cuda-graph-max-bs":    intFlag(func(a *Args) *int { return &a.CUDAGraphMaxBS }),
	"--kv-cache-dtype":       strFlag(func(a *Args) *string { return &a.KVDType }),
	"--host":                 strFlag(func(a *Args) *string { return &a.Host }),
	"--revision":             strFlag(func(a *Args) *string { return &a.Revision }),
	"--download-dir":         strFlag(func(a *Args) *string { return &a.DownloadDir }),
	"--mem-fraction-static": {set: func(a *Args, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("invalid float value: '%s'", v)
		}
		a.MemFractionStatic = f
		return nil
	}},
	"--enable-metrics":     {boolean: true, set: func(a *Args, _ string) error { a.EnableMetrics = true; return nil }},
	"--disable-cuda-graph": {boolean: true, set: func(a *Args, _ string) error { a.DisableCUDAGraph = true; return nil }},
}

// ignored take a value (or are switches) and change nothing simulated.
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
	for i := 0; i < len(argv); i++ {
		name, val, hasVal := strings.Cut(argv[i], "=")
		spec, known := flags[name]
		switch {
		case known && spec.boolean, ignoredBools[name]:
			if known {
				spec.set(a, "")
			}
			continue
		case !known && !ignored[name]:
			return nil, &usageError{"unrecognized arguments: " + argv[i]}
		}
		if !hasVal {
			if i+1 >= len(argv) {
				return nil, &usageError{fmt.Sprintf("argument %s: expected one argument", name)}
			}
			i++
			val = argv[i]
		}
		if known {
			if err := spec.set(a, val); err != nil {
				return nil, &usageError{fmt.Sprintf("argument %s: %v", name, err)}
			}
		}
	}
	if a.ModelPath == "" {
		return nil, &usageError{"the following arguments are required: --model-path/--model"}
	}
	if a.ServedName == "" {
		a.ServedName = a.ModelPath
	}
	return a, nil
}
