package simkit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Env is the ground truth a simulator container is started with: the
// simulated GPUs and the hidden coefficients of its memory model. Nothing
// here is visible through the engine's own interfaces except through its
// effects. Each engine reads the coefficients its own way (see its doc.go).
type Env struct {
	// GPUName is what NVML reports (SIM_GPU_NAME).
	GPUName string
	// GPUTotal is the device memory in bytes (SIM_GPU_TOTAL_BYTES).
	GPUTotal int64
	// NumGPUs is the number of visible GPUs (SIM_NUM_GPUS).
	NumGPUs int
	// Overhead is the engine's non-torch memory per GPU (SIM_EXTRA_OVERHEAD_BYTES).
	Overhead int64
	// ContextBytes is the CUDA context and whatever else is resident
	// before the engine's first memory reading (SIM_CUDA_CONTEXT_BYTES).
	ContextBytes int64
	// ActFactor scales the live activations of a forward pass to the
	// caching allocator's peak (SIM_ACTIVATION_FACTOR).
	ActFactor float64
	// Jitter bounds a per-launch, per-GPU uniform addition to Overhead
	// (SIM_JITTER_BYTES), drawn from Seed (SIM_SEED).
	Jitter int64
	Seed   uint64
	// GPUsPort, when > 0, serves GET /sim/gpus on its own port from launch
	// on (SIM_GPUS_PORT).
	GPUsPort int
	// TokenDelay is the time of one scheduler step, i.e. per generated
	// token (SIM_TOKEN_DELAY).
	TokenDelay time.Duration
	// StartupDelay is spent between the start's phases (SIM_STARTUP_DELAY).
	StartupDelay time.Duration
	// LeakPerRequest is device memory that every finished request leaves
	// behind (SIM_LEAK_BYTES_PER_REQUEST); the leak ends in a runtime OOM.
	LeakPerRequest int64
	// GraphExtra is CUDA-graph memory beyond what the engine measured or
	// budgeted when it sized the pool (SIM_CUDA_GRAPH_EXTRA_BYTES), so
	// capture can run out of memory after the pool is allocated.
	GraphExtra int64
}

// Defaults every engine shares; each engine sets its own Overhead,
// ContextBytes and ActFactor defaults before Load.
const (
	DefaultGPUName      = "NVIDIA H100 80GB HBM3"
	DefaultGPUTotal     = 81559 << 20 // nvidia-smi memory.total of an H100 SXM, 81559 MiB
	DefaultStartupDelay = 200 * time.Millisecond
	DefaultTokenDelay   = 2 * time.Millisecond
)

// NewEnv is the environment when no variable is set, with the engine's own
// hidden coefficients and a seed drawn from the clock.
func NewEnv(overhead, context int64, actFactor float64, now func() time.Time) Env {
	return Env{
		GPUName: DefaultGPUName, GPUTotal: DefaultGPUTotal, NumGPUs: 1,
		Overhead: overhead, ContextBytes: context, ActFactor: actFactor,
		Seed: uint64(now().UnixNano()), TokenDelay: DefaultTokenDelay, StartupDelay: DefaultStartupDelay,
	}
}

// Load reads the SIM_* variables over e; every rejected variable is named
// in the one error.
func (e Env) Load(getenv func(string) string) (Env, error) {
	var errs []string
	for _, v := range envVars {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		if why := v.apply(&e, s); why != "" {
			errs = append(errs, fmt.Sprintf("%s=%q: %s", v.name, s, why))
		}
	}
	if len(errs) > 0 {
		return e, fmt.Errorf("simkit: bad simulator environment: %s", strings.Join(errs, "; "))
	}
	return e, nil
}

// JitterFor is GPU index's draw of the jitter, the same for a seed.
func (e Env) JitterFor(index int) int64 {
	if e.Jitter <= 0 {
		return 0
	}
	return rand.New(rand.NewPCG(e.Seed, uint64(index))).Int64N(e.Jitter + 1)
}

// envVar is one variable; apply stores the value and returns why it is
// rejected, or "".
type envVar struct {
	name  string
	apply func(e *Env, v string) string
}

var envVars = []envVar{
	{"SIM_GPU_NAME", func(e *Env, v string) string { e.GPUName = v; return "" }},
	bytesVar("SIM_GPU_TOTAL_BYTES", 1, func(e *Env) *int64 { return &e.GPUTotal }),
	{"SIM_NUM_GPUS", func(e *Env, v string) string {
		n, err := strconv.Atoi(v)
		e.NumGPUs = n
		return whyIf(err != nil || n < 1 || n > 64, "want an integer in 1..64")
	}},
	bytesVar("SIM_EXTRA_OVERHEAD_BYTES", 0, func(e *Env) *int64 { return &e.Overhead }),
	bytesVar("SIM_CUDA_CONTEXT_BYTES", 0, func(e *Env) *int64 { return &e.ContextBytes }),
	{"SIM_ACTIVATION_FACTOR", func(e *Env, v string) string {
		f, err := strconv.ParseFloat(v, 64)
		e.ActFactor = f
		return whyIf(err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f), "want a non-negative number")
	}},
	bytesVar("SIM_JITTER_BYTES", 0, func(e *Env) *int64 { return &e.Jitter }),
	{"SIM_SEED", func(e *Env, v string) string {
		n, err := strconv.ParseUint(v, 10, 64)
		e.Seed = n
		return whyIf(err != nil, "want an unsigned integer")
	}},
	{"SIM_GPUS_PORT", func(e *Env, v string) string {
		n, err := strconv.Atoi(v)
		e.GPUsPort = n
		return whyIf(err != nil || n < 0 || n > 65535, "want a port number")
	}},
	durationVar("SIM_TOKEN_DELAY", func(e *Env) *time.Duration { return &e.TokenDelay }),
	durationVar("SIM_STARTUP_DELAY", func(e *Env) *time.Duration { return &e.StartupDelay }),
	bytesVar("SIM_LEAK_BYTES_PER_REQUEST", 0, func(e *Env) *int64 { return &e.LeakPerRequest }),
	bytesVar("SIM_CUDA_GRAPH_EXTRA_BYTES", 0, func(e *Env) *int64 { return &e.GraphExtra }),
}

func bytesVar(name string, least int64, dst func(*Env) *int64) envVar {
	return envVar{name, func(e *Env, v string) string {
		n, err := ParseBytes(v)
		*dst(e) = n
		return whyIf(err != nil || n < least, fmt.Sprintf("want a byte count of at least %d such as 943718400 or 900MiB", least))
	}}
}

func durationVar(name string, dst func(*Env) *time.Duration) envVar {
	return envVar{name, func(e *Env, v string) string {
		t, err := time.ParseDuration(v)
		*dst(e) = t
		return whyIf(err != nil || t < 0, "want a duration such as 200ms")
	}}
}

func whyIf(rejected bool, why string) string {
	if rejected {
		return why
	}
	return ""
}

// ParseBytes reads "85520809984", "79.19GiB", "900MiB", "80GB" or "512KiB".
func ParseBytes(s string) (int64, error) {
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
		return 0, fmt.Errorf("simkit: parse byte count %q", s)
	}
	return int64(math.Round(f * mult)), nil
}
