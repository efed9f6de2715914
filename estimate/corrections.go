package estimate

import (
	"fmt"
	"math"
)

// Corrections are fitted adjustments to the estimate for one engine
// release, GPU and tensor-parallel degree, written by `vramcalc calibrate` from observed starts
// (validate's results, startup reports). Each multiplies or adds to a term
// the estimator already has; none replaces the physics.
type Corrections struct {
	// Version is the file format version (1).
	Version int
	// Engine, EngineVersion, GPU and TensorParallel (the shard count; 0:
	// not recorded) say what the corrections were fitted on.
	Engine         string
	EngineVersion  string
	GPU            string
	TensorParallel int
	// ActivationFactor multiplies the prefill activation peak; 0 means 1.
	ActivationFactor float64
	// OverheadBytes is added to the modelled overhead of each GPU (like
	// Settings.ExtraOverheadBytes); negative means less.
	OverheadBytes Bytes
	// CUDAGraphBytes is added to vLLM's CUDA-graph memory per GPU (the
	// captured pool beyond the modelled one; v0.20+ budgets it before the
	// KV pool); negative means less. Other engines ignore it.
	CUDAGraphBytes Bytes
	// Wiggle overrides the release's TGI_WIGGLE_ROOM default when > 0 (an
	// explicit Settings.WiggleRoom still wins: it is what the engine reads).
	Wiggle float64
	// MarginPct is the residual margin, in percent of the KV budget, that
	// covered 95% of the fitted observations.
	MarginPct float64
	// SafeSide is "below" when planning under the prediction less MarginPct
	// is safe (the prediction tends to be high), "above" otherwise.
	SafeSide string
}

// activationFactor is the factor applied to the prefill peak.
func (c *Corrections) activationFactor() float64 {
	if c == nil || c.ActivationFactor == 0 {
		return 1
	}
	return c.ActivationFactor
}

// overhead is the extra per-GPU overhead.
func (c *Corrections) overhead() Bytes {
	if c == nil {
		return 0
	}
	return c.OverheadBytes
}

// graphs is the CUDA-graph memory correction.
func (c *Corrections) graphs() Bytes {
	if c == nil {
		return 0
	}
	return c.CUDAGraphBytes
}

// validate reports what is wrong with c (nil when usable).
func (c *Corrections) validate() []string {
	if c == nil {
		return nil
	}
	var bad []string
	if f := c.ActivationFactor; f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		bad = append(bad, fmt.Sprintf("corrections activation_factor must be ≥ 0 (got %g)", f))
	}
	if w := c.Wiggle; w < 0 || w >= 1 || math.IsNaN(w) {
		bad = append(bad, fmt.Sprintf("corrections wiggle must be in (0, 1) or 0 (got %g)", w))
	}
	if m := c.MarginPct; m < 0 || math.IsNaN(m) {
		bad = append(bad, fmt.Sprintf("corrections margin_pct must be ≥ 0 (got %g)", m))
	}
	return bad
}

// note is the warning that states the corrections and their margin.
func (c *Corrections) note() string {
	side := "the safe side is below it: plan on the budget less the margin"
	if c.SafeSide == "above" {
		side = "the safe side is above it: the real budget was mostly at or above the prediction"
	}
	graphs := ""
	if c.CUDAGraphBytes != 0 {
		graphs = fmt.Sprintf(", CUDA graphs %+.0f MiB", float64(c.CUDAGraphBytes)/float64(MiB))
	}
	return fmt.Sprintf("calibrated corrections (%s %s on %s): activation ×%.3f, overhead %+.0f MiB%s, wiggle %s; the KV budget was within ±%.2f%% of the prediction for 95%% of the fitted starts; %s",
		c.Engine, c.EngineVersion, c.GPU, c.activationFactor(), float64(c.OverheadBytes)/float64(MiB), graphs, wiggleText(c.Wiggle), c.MarginPct, side)
}

func wiggleText(w float64) string {
	if w > 0 {
		return fmt.Sprintf("%.4f", w)
	}
	return "default"
}
