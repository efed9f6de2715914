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
	err := LoadEnv(&e, envVars, getenv)
	return e, err
}

// JitterFor is GPU index's draw of the jitter, the same for a seed.
func (e Env) JitterFor(index int) int64 {
	if e.Jitter <= 0 {
		return 0
	}
	return rand.New(rand.NewPCG(e.Seed, uint64(index))).Int64N(e.Jitter + 1)
}

// EnvVar is one variable of a simulator's environment E (Env here, each
// engine's own struct in cmd/tgisim). Apply stores a set (non-blank,
// trimmed) value in e and returns why the value is rejected, or "" when it
// is accepted; a rejected value is stored too.
type EnvVar[E any] struct {
	Name  string
	Apply func(e *E, v string) (why string)
}

// LoadEnv applies the variables that getenv has set over e, in the order
// of vars; every rejected variable is named in the one error.
func LoadEnv[E any](e *E, vars []EnvVar[E], getenv func(string) string) error {
	var errs []string
	for _, v := range vars {
		s := strings.TrimSpace(getenv(v.Name))
		if s == "" {
			continue
		}
		if why := v.Apply(e, s); why != "" {
			errs = append(errs, fmt.Sprintf("%s=%q: %s", v.Name, s, why))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("simkit: bad simulator environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

var envVars = []EnvVar[Env]{
	{"SIM_GPU_NAME", func(e *Env, v string) string { e.GPUName = v; return "" }},
	BytesVar("SIM_GPU_TOTAL_BYTES", 1, func(e *Env) *int64 { return &e.GPUTotal }),
	IntVar("SIM_NUM_GPUS", 1, 64, "want an integer in 1..64", func(e *Env) *int { return &e.NumGPUs }),
	BytesVar("SIM_EXTRA_OVERHEAD_BYTES", 0, func(e *Env) *int64 { return &e.Overhead }),
	BytesVar("SIM_CUDA_CONTEXT_BYTES", 0, func(e *Env) *int64 { return &e.ContextBytes }),
	FloatVar("SIM_ACTIVATION_FACTOR", "want a non-negative number", NonNegative, func(e *Env) *float64 { return &e.ActFactor }),
	BytesVar("SIM_JITTER_BYTES", 0, func(e *Env) *int64 { return &e.Jitter }),
	SeedVar("SIM_SEED", func(e *Env) *uint64 { return &e.Seed }),
	IntVar("SIM_GPUS_PORT", 0, 65535, "want a port number", func(e *Env) *int { return &e.GPUsPort }),
	DurationVar("SIM_TOKEN_DELAY", func(e *Env) *time.Duration { return &e.TokenDelay }),
	DurationVar("SIM_STARTUP_DELAY", func(e *Env) *time.Duration { return &e.StartupDelay }),
	BytesVar("SIM_LEAK_BYTES_PER_REQUEST", 0, func(e *Env) *int64 { return &e.LeakPerRequest }),
	BytesVar("SIM_CUDA_GRAPH_EXTRA_BYTES", 0, func(e *Env) *int64 { return &e.GraphExtra }),
}

// BytesVar is a byte count (ParseBytes) of at least least, stored in the
// field dst picks.
func BytesVar[E any](name string, least int64, dst func(*E) *int64) EnvVar[E] {
	return EnvVar[E]{name, func(e *E, v string) string {
		n, err := ParseBytes(v)
		*dst(e) = n
		return WhyIf(err != nil || n < least, fmt.Sprintf("want a byte count of at least %d such as 943718400 or 900MiB", least))
	}}
}

// IntVar is a decimal integer in lo..hi, stored in the field dst picks.
func IntVar[E any](name string, lo, hi int, why string, dst func(*E) *int) EnvVar[E] {
	return EnvVar[E]{name, func(e *E, v string) string {
		n, err := strconv.Atoi(v)
		*dst(e) = n
		return WhyIf(err != nil || n < lo || n > hi, why)
	}}
}

// FloatVar is a number that ok accepts, stored in the field dst picks.
func FloatVar[E any](name, why string, ok func(float64) bool, dst func(*E) *float64) EnvVar[E] {
	return EnvVar[E]{name, func(e *E, v string) string {
		f, err := strconv.ParseFloat(v, 64)
		*dst(e) = f
		return WhyIf(err != nil || !ok(f), why)
	}}
}

// NonNegative accepts a finite number ≥ 0 (for FloatVar).
func NonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

// SeedVar is an unsigned decimal integer, stored in the field dst picks.
func SeedVar[E any](name string, dst func(*E) *uint64) EnvVar[E] {
	return EnvVar[E]{name, func(e *E, v string) string {
		n, err := strconv.ParseUint(v, 10, 64)
		*dst(e) = n
		return WhyIf(err != nil, "want an unsigned integer")
	}}
}

// DurationVar is a non-negative Go duration, stored in the field dst picks.
func DurationVar[E any](name string, dst func(*E) *time.Duration) EnvVar[E] {
	return EnvVar[E]{name, func(e *E, v string) string {
		t, err := time.ParseDuration(v)
		*dst(e) = t
		return WhyIf(err != nil || t < 0, "want a duration such as 200ms")
	}}
}

// WhyIf is why when rejected, else "".
func WhyIf(rejected bool, why string) string {
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
