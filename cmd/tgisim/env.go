package main

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
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

// Defaults of the hidden coefficients; the GPU's and the delays are
// simkit's, as every simulator's.
const (
	defaultOverhead  = 896 << 20
	defaultActFactor = 1.4
	defaultWiggle    = 0.90
)

// loadSimEnv reads the simulator's environment over its defaults; every
// rejected variable is named in the one error.
func loadSimEnv(getenv func(string) string, now func() time.Time) (simEnv, error) {
	e := defaultSimEnv(now)
	err := simkit.LoadEnv(&e, simEnvVars, getenv)
	return e, err
}

// defaultSimEnv is the ground truth when no variable is set; the seed is
// drawn from the clock.
func defaultSimEnv(now func() time.Time) simEnv {
	return simEnv{
		GPU:             gpuSpec{Name: simkit.DefaultGPUName, Total: simkit.DefaultGPUTotal, Count: 1, ComputeCapability: 9.0},
		Overhead:        defaultOverhead,
		ActFactor:       defaultActFactor,
		Wiggle:          defaultWiggle,
		LauncherWiggle:  0.95,
		Seed:            uint64(now().UnixNano()),
		StartupDelay:    simkit.DefaultStartupDelay,
		TokenDelay:      simkit.DefaultTokenDelay,
		PrefillChunking: true,
	}
}

// simEnvVars are the variables in the order their errors are reported.
var simEnvVars = []simkit.EnvVar[simEnv]{
	{Name: "SIM_GPU_NAME", Apply: func(e *simEnv, v string) string {
		e.GPU.Name = v
		if v == "none" {
			e.GPU.Name = ""
		}
		return ""
	}},
	simkit.BytesVar("SIM_GPU_TOTAL_BYTES", 1, func(e *simEnv) *int64 { return &e.GPU.Total }),
	simkit.IntVar("SIM_NUM_GPUS", 1, 64, "want an integer in 1..64", func(e *simEnv) *int { return &e.GPU.Count }),
	simkit.FloatVar("SIM_GPU_COMPUTE_CAPABILITY", "want major.minor such as 8.0", func(f float64) bool { return f > 0 }, func(e *simEnv) *float64 { return &e.GPU.ComputeCapability }),
	simkit.BytesVar("SIM_EXTRA_OVERHEAD_BYTES", 0, func(e *simEnv) *int64 { return &e.Overhead }),
	simkit.FloatVar("SIM_ACTIVATION_FACTOR", "want a non-negative number", simkit.NonNegative, func(e *simEnv) *float64 { return &e.ActFactor }),
	simkit.FloatVar("SIM_WIGGLE", "want a number in (0, 1)", func(float64) bool { return true }, func(e *simEnv) *float64 { return &e.Wiggle }),
	{Name: "TGI_WIGGLE_ROOM", Apply: applyTGIWiggleRoom},
	simkit.BytesVar("SIM_JITTER_BYTES", 0, func(e *simEnv) *int64 { return &e.Jitter }),
	simkit.SeedVar("SIM_SEED", func(e *simEnv) *uint64 { return &e.Seed }),
	simkit.DurationVar("SIM_STARTUP_DELAY", func(e *simEnv) *time.Duration { return &e.StartupDelay }),
	simkit.DurationVar("SIM_TOKEN_DELAY", func(e *simEnv) *time.Duration { return &e.TokenDelay }),
	simkit.IntVar("SIM_GPUS_PORT", 0, 65535, "want a port number", func(e *simEnv) *int { return &e.GPUsPort }),
	{Name: "SIM_ECHO_ENV", Apply: func(e *simEnv, v string) string {
		e.Echo = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		return ""
	}},
	{Name: "PREFILL_CHUNKING", Apply: func(e *simEnv, v string) string {
		e.PrefillChunking = v == "1" || strings.EqualFold(v, "true")
		return ""
	}},
	{Name: "ATTENTION", Apply: func(e *simEnv, v string) string {
		e.Attention = v
		switch v {
		case "flashinfer", "flashdecoding", "paged":
			return ""
		}
		return "tgisim simulates flashinfer, flashdecoding and paged"
	}},
	{Name: "PREFIX_CACHING", Apply: func(e *simEnv, v string) string {
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
