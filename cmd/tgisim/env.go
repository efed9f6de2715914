package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// gpuSpec is the simulated device, the same for every GPU.
type gpuSpec struct {
	// Name is what nvidia-smi prints (SIM_GPU_NAME); "" means nvidia-smi
	// is absent, so the launcher's prefill heuristic has no card.
	Name string
	// Total is the device memory in bytes as torch and NVML report it (SIM_GPU_TOTAL_BYTES).
	Total int64
	// Count is the number of visible GPUs (SIM_NUM_GPUS), TGI's CUDA_VISIBLE_DEVICES.
	Count int
	// ComputeCapability is major.minor (SIM_GPU_COMPUTE_CAPABILITY); the
	// launcher falls back to paged attention below 8.0.
	ComputeCapability float64
}

// simEnv is the ground truth the container is started with: the GPU and
// the hidden coefficients of the memory model. Nothing here is visible
// through TGI's own interfaces except through its effects.
type simEnv struct {
	GPU gpuSpec
	// Overhead is the non-torch memory per GPU: CUDA context, cuBLAS
	// workspaces, NCCL, the flashinfer workspace (SIM_EXTRA_OVERHEAD_BYTES).
	Overhead int64
	// ActFactor scales the prefill's live activations to the caching
	// allocator's reserved peak (SIM_ACTIVATION_FACTOR).
	ActFactor float64
	// Wiggle is TGI_WIGGLE_ROOM as the server reads it: the env var when
	// set, else SIM_WIGGLE, else v3.3's 0.90.
	Wiggle float64
	// LauncherWiggle is TGI_WIGGLE_ROOM as the launcher reads it (f32,
	// default 0.95) for its prefill heuristic.
	LauncherWiggle float32
	// Jitter is the upper bound of a per-launch, per-GPU random addition to
	// Overhead (SIM_JITTER_BYTES), drawn from SIM_SEED.
	Jitter int64
	Seed   uint64
	// StartupDelay is spent half loading weights, half in warm-up (SIM_STARTUP_DELAY).
	StartupDelay time.Duration
	// TokenDelay is the time per generated token (SIM_TOKEN_DELAY).
	TokenDelay time.Duration
	// GPUsPort, when > 0, serves GET /sim/gpus from launch on (SIM_GPUS_PORT),
	// so a sampler can see the warm-up peak before TGI's port opens.
	GPUsPort int
	// PrefillChunking is PREFILL_CHUNKING (default on).
	PrefillChunking bool
	// Attention and PrefixCaching are the ATTENTION and PREFIX_CACHING overrides.
	Attention, PrefixCaching string
	// Echo names the variables whose values the launcher logs
	// (SIM_ECHO_ENV), as an engine that prints its environment would: a
	// test that secrets never reach vramcalc's results.
	Echo []string
}

// Defaults of the hidden coefficients and the simulated GPU.
const (
	defaultGPUName      = "NVIDIA H100 80GB HBM3"
	defaultGPUTotal     = 81559 << 20 // nvidia-smi memory.total of an H100 SXM, 81559 MiB
	defaultOverhead     = 896 << 20
	defaultActFactor    = 1.4
	defaultWiggle       = 0.90
	defaultStartupDelay = 200 * time.Millisecond
	defaultTokenDelay   = 2 * time.Millisecond
)

// loadSimEnv reads the simulator's environment over its defaults; every
// rejected variable is named in the one error.
func loadSimEnv(getenv func(string) string, now func() time.Time) (simEnv, error) {
	e := defaultSimEnv(now)
	var errs []string
	for _, ev := range simEnvVars {
		v, ok := envSet(getenv, ev.name)
		if !ok {
			continue
		}
		if why := ev.apply(&e, v); why != "" {
			errs = append(errs, fmt.Sprintf("%s=%q: %s", ev.name, v, why))
		}
	}
	if len(errs) > 0 {
		return e, fmt.Errorf("bad simulator environment: %s", strings.Join(errs, "; "))
	}
	return e, nil
}

// defaultSimEnv is the ground truth when no variable is set; the seed is
// drawn from the clock.
func defaultSimEnv(now func() time.Time) simEnv {
	return simEnv{
		GPU:             gpuSpec{Name: defaultGPUName, Total: defaultGPUTotal, Count: 1, ComputeCapability: 9.0},
		Overhead:        defaultOverhead,
		ActFactor:       defaultActFactor,
		Wiggle:          defaultWiggle,
		LauncherWiggle:  0.95,
		Seed:            uint64(now().UnixNano()),
		StartupDelay:    defaultStartupDelay,
		TokenDelay:      defaultTokenDelay,
		PrefillChunking: true,
	}
}

// simEnvVar is one variable of the simulator's environment. apply stores a
// set (non-blank, trimmed) value in e and returns why the value is
// rejected, or "" when it is accepted; a rejected value is stored too.
type simEnvVar struct {
	name  string
	apply func(e *simEnv, v string) (why string)
}

// simEnvVars are the variables in the order their errors are reported.
var simEnvVars = []simEnvVar{
	{"SIM_GPU_NAME", func(e *simEnv, v string) string {
		e.GPU.Name = v
		if v == "none" {
			e.GPU.Name = ""
		}
		return ""
	}},
	bytesVar("SIM_GPU_TOTAL_BYTES", 1, "want a positive byte count such as 85520809984 or 79.19GiB", func(e *simEnv) *int64 { return &e.GPU.Total }),
	intVar("SIM_NUM_GPUS", 1, 64, "want an integer in 1..64", func(e *simEnv) *int { return &e.GPU.Count }),
	{"SIM_GPU_COMPUTE_CAPABILITY", func(e *simEnv, v string) string {
		f, err := strconv.ParseFloat(v, 64)
		e.GPU.ComputeCapability = f
		return whyIf(err != nil || f <= 0, "want major.minor such as 8.0")
	}},
	bytesVar("SIM_EXTRA_OVERHEAD_BYTES", 0, "want a byte count such as 943718400 or 900MiB", func(e *simEnv) *int64 { return &e.Overhead }),
	{"SIM_ACTIVATION_FACTOR", func(e *simEnv, v string) string {
		f, err := strconv.ParseFloat(v, 64)
		e.ActFactor = f
		return whyIf(err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f), "want a non-negative number")
	}},
	{"SIM_WIGGLE", func(e *simEnv, v string) string {
		f, err := strconv.ParseFloat(v, 64)
		e.Wiggle = f
		return whyIf(err != nil, "want a number in (0, 1)")
	}},
	{"TGI_WIGGLE_ROOM", applyTGIWiggleRoom},
	bytesVar("SIM_JITTER_BYTES", 0, "want a byte count", func(e *simEnv) *int64 { return &e.Jitter }),
	{"SIM_SEED", func(e *simEnv, v string) string {
		n, err := strconv.ParseUint(v, 10, 64)
		e.Seed = n
		return whyIf(err != nil, "want an unsigned integer")
	}},
	durationVar("SIM_STARTUP_DELAY", func(e *simEnv) *time.Duration { return &e.StartupDelay }),
	durationVar("SIM_TOKEN_DELAY", func(e *simEnv) *time.Duration { return &e.TokenDelay }),
	intVar("SIM_GPUS_PORT", 0, 65535, "want a port number", func(e *simEnv) *int { return &e.GPUsPort }),
	{"SIM_ECHO_ENV", func(e *simEnv, v string) string {
		e.Echo = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		return ""
	}},
	{"PREFILL_CHUNKING", func(e *simEnv, v string) string {
		e.PrefillChunking = v == "1" || strings.EqualFold(v, "true")
		return ""
	}},
	{"ATTENTION", func(e *simEnv, v string) string {
		e.Attention = v
		switch v {
		case "flashinfer", "flashdecoding", "paged":
			return ""
		}
		return "tgisim simulates flashinfer, flashdecoding and paged"
	}},
	{"PREFIX_CACHING", func(e *simEnv, v string) string {
		e.PrefixCaching = v
		return ""
	}},
}

// applyTGIWiggleRoom sets both readers of TGI_WIGGLE_ROOM. The server:
// float(os.getenv("TGI_WIGGLE_ROOM", "0.90")), asserted in (0, 1) at
// import (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/globals.py#L32-L34);
// a non-number crashes the shard, which the launcher run reports. The
// launcher: .parse::<f32>().ok().unwrap_or(0.95).
func applyTGIWiggleRoom(e *simEnv, v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		f = math.NaN()
	}
	e.Wiggle = f
	if lf, err := strconv.ParseFloat(v, 32); err == nil {
		e.LauncherWiggle = float32(lf)
	}
	return ""
}

// bytesVar is a byte count of at least least, stored in the field dst picks.
func bytesVar(name string, least int64, why string, dst func(*simEnv) *int64) simEnvVar {
	return simEnvVar{name, func(e *simEnv, v string) string {
		n, err := parseBytes(v)
		*dst(e) = n
		return whyIf(err != nil || n < least, why)
	}}
}

// intVar is a decimal integer in lo..hi, stored in the field dst picks.
func intVar(name string, lo, hi int, why string, dst func(*simEnv) *int) simEnvVar {
	return simEnvVar{name, func(e *simEnv, v string) string {
		n, err := strconv.Atoi(v)
		*dst(e) = n
		return whyIf(err != nil || n < lo || n > hi, why)
	}}
}

// durationVar is a non-negative Go duration, stored in the field dst picks.
func durationVar(name string, dst func(*simEnv) *time.Duration) simEnvVar {
	return simEnvVar{name, func(e *simEnv, v string) string {
		t, err := time.ParseDuration(v)
		*dst(e) = t
		return whyIf(err != nil || t < 0, "want a duration such as 200ms")
	}}
}

// whyIf is why when rejected, else "".
func whyIf(rejected bool, why string) string {
	if rejected {
		return why
	}
	return ""
}

func envSet(getenv func(string) string, name string) (string, bool) {
	v := strings.TrimSpace(getenv(name))
	return v, v != ""
}

// parseBytes reads "85520809984", "79.19GiB", "900MiB", "80GB" or "512KiB".
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && mult == 1 {
		return n, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("parse byte count %q", s)
	}
	return int64(math.Round(f * mult)), nil
}
