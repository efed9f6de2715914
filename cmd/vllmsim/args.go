package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/internal/simkit"
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

// cli is `vllm serve`'s argparse.
var cli = &simkit.Argparse[Args]{Flags: flags, Ignored: ignoredFlags, IgnoredSwitches: ignoredBools, Positionals: true,
	Usage: "usage: vllm serve [model_tag] [options]", Prog: "vllm serve"}

var flags = map[string]simkit.Flag[Args]{
	"--model":                  simkit.StrFlag(func(a *Args) *string { return &a.Model }),
	"--served-model-name":      simkit.StrFlag(func(a *Args) *string { return &a.ServedName }),
	"--max-model-len":          lenFlag(func(a *Args) *int { return &a.MaxModelLen }),
	"--gpu-memory-utilization": simkit.FloatFlag(func(a *Args) *float64 { return &a.Util }),
	"--max-num-seqs":           simkit.IntFlag(func(a *Args) *int { return &a.MaxNumSeqs }),
	"--max-num-batched-tokens": lenFlag(func(a *Args) *int { return &a.MaxBatched }),
	"--tensor-parallel-size":   simkit.IntFlag(func(a *Args) *int { return &a.TP }),
	"-tp":                      simkit.IntFlag(func(a *Args) *int { return &a.TP }),
	"--kv-cache-dtype":         {Set: setKVDType},
	"--block-size":             simkit.IntFlag(func(a *Args) *int { return &a.BlockSize }),
	"--enforce-eager":          simkit.SwitchFlag(func(a *Args) *bool { return &a.EnforceEager }, true),
	"--no-enforce-eager":       simkit.SwitchFlag(func(a *Args) *bool { return &a.EnforceEager }, false),
	"--quantization":           simkit.StrFlag(func(a *Args) *string { return &a.Quantization }),
	"-q":                       simkit.StrFlag(func(a *Args) *string { return &a.Quantization }),
	"--host":                   simkit.StrFlag(func(a *Args) *string { return &a.Host }),
	"--port":                   simkit.IntFlag(func(a *Args) *int { return &a.Port }),
	"--revision":               simkit.StrFlag(func(a *Args) *string { return &a.Revision }),
	"--download-dir":           simkit.StrFlag(func(a *Args) *string { return &a.DownloadDir }),
	"--kv-cache-memory-bytes": {Set: func(a *Args, v string) error {
		var n int
		err := parseLen(v, &n)
		a.KVCacheMemoryBytes = int64(n)
		return err
	}},
	"--disable-log-stats": simkit.SwitchFlag(func(a *Args) *bool { return &a.DisableLogStats }, true),
}

// lenFlag is a human_readable_int (parseLen).
func lenFlag(dst func(*Args) *int) simkit.Flag[Args] {
	return simkit.Flag[Args]{Set: func(a *Args, v string) error { return parseLen(v, dst(a)) }}
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
	set, positional, err := cli.Parse(a, argv)
	if err != nil {
		return nil, err
	}
	a.set = set
	if len(positional) > 1 {
		return nil, cli.Fail("unrecognized arguments: " + strings.Join(positional[1:], " "))
	}
	if len(positional) == 1 {
		a.Model = positional[0]
	}
	if a.ServedName == "" {
		a.ServedName = a.Model
	}
	return a, nil
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
