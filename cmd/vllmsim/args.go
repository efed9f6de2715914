package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Args are the `vllm serve` arguments the simulator reads; the rest of
// vLLM's engine arguments are accepted and ignored (ignoredFlags).
type Args struct {
	Model      string
	ServedName string
	// MaxModelLen is --max-model-len: 0 derives it from the model, -1 (or
	// "auto") fits it to memory.
	MaxModelLen  int
	Util         float64
	MaxNumSeqs   int // 0: vLLM's default for the device
	MaxBatched   int // 0: vLLM's default for the device
	TP           int
	KVDType      string
	BlockSize    int
	EnforceEager bool
	Quantization string
	Host         string
	Port         int
	Revision     string
	DownloadDir  string
	// KVCacheMemoryBytes is --kv-cache-memory-bytes: the pool size, with
	// no profiling and no utilization check.
	KVCacheMemoryBytes int64
	DisableLogStats    bool
	// set are the flags given, for the "non-default args" line.
	set []string
}

// Defaults of `vllm serve` v0.21.0: --gpu-memory-utilization 0.92
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/cache.py#L66),
// block size 16 (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/cache.py#L45),
// port 8000 (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/openai/cli_args.py#L230),
// and the default model Qwen/Qwen3-0.6B
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/model.py#L112).
func defaultArgs() *Args {
	return &Args{Model: "Qwen/Qwen3-0.6B", Util: 0.92, TP: 1, KVDType: "auto", BlockSize: 16, Port: 8000}
}

// usageError is argparse's error: the usage line and "vllm serve: error:
// …" on stderr, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string {
	return "usage: vllm serve [model_tag] [options]\nvllm serve: error: " + e.msg + "\n"
}

// flagSpec is one flag the simulator acts on: kind "int", "float",
// "string", "bool", "len" (human-readable int) or "bytes".
type flagSpec struct {
	kind string
	set  func(a *Args, v string) error
}

var flags = map[string]flagSpec{
	"--model":                  {"string", func(a *Args, v string) error { a.Model = v; return nil }},
	"--served-model-name":      {"string", func(a *Args, v string) error { a.ServedName = v; return nil }},
	"--max-model-len":          {"len", func(a *Args, v string) error { return parseLen(v, &a.MaxModelLen) }},
	"--gpu-memory-utilization": {"float", func(a *Args, v string) error { return parseUtil(v, &a.Util) }},
	"--max-num-seqs":           {"int", func(a *Args, v string) error { return parseInt(v, &a.MaxNumSeqs) }},
	"--max-num-batched-tokens": {"len", func(a *Args, v string) error { return parseLen(v, &a.MaxBatched) }},
	"--tensor-parallel-size":   {"int", func(a *Args, v string) error { return parseInt(v, &a.TP) }},
	"-tp":                      {"int", func(a *Args, v string) error { return parseInt(v, &a.TP) }},
	"--kv-cache-dtype":         {"string", setKVDType},
	"--block-size":             {"int", func(a *Args, v string) error { return parseInt(v, &a.BlockSize) }},
	"--enforce-eager":          {"bool", func(a *Args, _ string) error { a.EnforceEager = true; return nil }},
	"--no-enforce-eager":       {"bool", func(a *Args, _ string) error { a.EnforceEager = false; return nil }},
	"--quantization":           {"string", func(a *Args, v string) error { a.Quantization = v; return nil }},
	"-q":                       {"string", func(a *Args, v string) error { a.Quantization = v; return nil }},
	"--host":                   {"string", func(a *Args, v string) error { a.Host = v; return nil }},
	"--port":                   {"int", func(a *Args, v string) error { return parseInt(v, &a.Port) }},
	"--revision":               {"string", func(a *Args, v string) error { a.Revision = v; return nil }},
	"--download-dir":           {"string", func(a *Args, v string) error { a.DownloadDir = v; return nil }},
	"--kv-cache-memory-bytes": {"len", func(a *Args, v string) error {
		var n int
		err := parseLen(v, &n)
		a.KVCacheMemoryBytes = int64(n)
		return err
	}},
	"--disable-log-stats": {"bool", func(a *Args, _ string) error { a.DisableLogStats = true; return nil }},
}

// ignoredFlags take a value and change nothing the simulator models.
var ignoredFlags = map[string]bool{
	"--dtype": true, "--seed": true, "--mamba-cache-mode": true, "--mamba-ssm-cache-dtype": true,
	"--limit-mm-per-prompt": true, "--speculative-config": true, "--max-logprobs": true, "--tokenizer": true,
	"--uvicorn-log-level": true, "--api-key": true, "--swap-space": true, "--load-format": true,
	"--generation-config": true, "--chat-template": true, "--pipeline-parallel-size": true, "-pp": true,
	"--data-parallel-size": true, "-dp": true, "--compilation-config": true, "-cc": true, "--hf-overrides": true,
}

// ignoredBools are switches that change nothing the simulator models.
var ignoredBools = map[string]bool{
	"--trust-remote-code": true, "--enable-prefix-caching": true, "--no-enable-prefix-caching": true,
	"--enable-chunked-prefill": true, "--no-enable-chunked-prefill": true, "--disable-log-requests": true,
	"--enable-log-requests": true, "--disable-custom-all-reduce": true, "--enable-auto-tool-choice": true,
	"--disable-frontend-multiprocessing": true, "--enable-expert-parallel": true,
}

var kvDTypes = []string{"auto", "bfloat16", "fp8", "fp8_ds_mla", "fp8_e4m3", "fp8_e5m2", "fp8_inc"}

func setKVDType(a *Args, v string) error {
	for _, d := range kvDTypes {
		if d == v {
			a.KVDType = v
			return nil
		}
	}
	return fmt.Errorf("invalid choice: '%s' (choose from %s)", v, "'"+strings.Join(kvDTypes, "', '")+"'")
}

// parseArgs reads `vllm serve [model_tag] [options]`: --flag VALUE,
// --flag=VALUE and switches; a positional model wins over --model.
func parseArgs(argv []string) (*Args, error) {
	a := defaultArgs()
	var positional []string
	for i := 0; i < len(argv); i++ {
		name, val, hasVal := strings.Cut(argv[i], "=")
		if !strings.HasPrefix(name, "-") || isNumber(argv[i]) {
			positional = append(positional, argv[i])
			continue
		}
		spec, known := flags[name]
		switch {
		case known && spec.kind == "bool", !known && ignoredBools[name]:
			if hasVal {
				return nil, &usageError{fmt.Sprintf("argument %s: ignored explicit argument '%s'", name, val)}
			}
			if known {
				spec.set(a, "")
			}
			a.set = append(a.set, name)
			continue
		case !known && !ignoredFlags[name]:
			return nil, &usageError{"unrecognized arguments: " + argv[i]}
		}
		if !hasVal {
			if i+1 >= len(argv) {
				return nil, &usageError{fmt.Sprintf("argument %s: expected one argument", name)}
			}
			i++
			val = argv[i]
		}
		a.set = append(a.set, name)
		if known {
			if err := spec.set(a, val); err != nil {
				return nil, &usageError{fmt.Sprintf("argument %s: %v", name, err)}
			}
		}
	}
	if len(positional) > 1 {
		return nil, &usageError{"unrecognized arguments: " + strings.Join(positional[1:], " ")}
	}
	if len(positional) == 1 {
		a.Model = positional[0]
	}
	if a.ServedName == "" {
		a.ServedName = a.Model
	}
	return a, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func parseInt(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("invalid int value: '%s'", v)
	}
	*dst = n
	return nil
}

func parseUtil(v string, dst *float64) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("invalid float value: '%s'", v)
	}
	*dst = f
	return nil
}

// parseLen is vLLM's human_readable_int: 1k = 1000, 1K = 1024, and for
// --max-model-len -1 or "auto" (auto-fit)
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/config/model.py#L189-L201).
func parseLen(v string, dst *int) error {
	if v == "auto" || v == "-1" {
		*dst = -1
		return nil
	}
	mult := 1.0
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k':
			mult = 1e3
		case 'm':
			mult = 1e6
		case 'g':
			mult = 1e9
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			v = v[:n-1]
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || (mult == 1 && f != math.Trunc(f)) {
		return fmt.Errorf("invalid human_readable_int value: '%s'", v)
	}
	*dst = int(f * mult)
	return nil
}
