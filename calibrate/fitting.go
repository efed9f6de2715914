package calibrate

import (
	"errors"

	"github.com/vramcalc/vramcalc/estimate"
)

// Sample is one observed start: the KV budget the engine reported
// ("Setting max batch total tokens to N", the tgi_batch_max_total_tokens
// gauge, or a startup report's kv_tokens).
type Sample struct {
	// ID names the observation (a report's row id, a results file and line).
	ID string
	// Reported is the KV budget in tokens; it must be > 0.
	Reported float64
}

// Param selects the corrections the fit adjusts.
type Param int

// The fittable corrections.
const (
	ParamActivation Param = 1 << iota
	ParamOverhead
	ParamWiggle
	ParamsAll = ParamActivation | ParamOverhead | ParamWiggle
)

// Names lists the selected parameters by their JSON names.
func (p Param) Names() []string {
	var out []string
	for _, n := range []struct {
		p    Param
		name string
	}{{ParamActivation, "activation_factor"}, {ParamOverhead, "overhead_bytes"}, {ParamWiggle, "wiggle"}} {
		if p&n.p != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Count is the number of selected parameters.
func (p Param) Count() int { return len(p.Names()) }

// DefaultLossScale is the Cauchy loss's scale on relative residuals: 2%.
// A start that misses by 10× the scale (20%) weighs log(101) ≈ 4.6 against
// 0.5 for one that misses by the scale, so one bad observation cannot drag
// the fit the way it would a least-squares one.
const DefaultLossScale = 0.02

// OutlierScales is how many loss scales a residual must exceed after the
// first pass for its sample to be left out of the second: 10 × 2% = 20%.
const OutlierScales = 10

// FitOptions choose what the fit (package calibrate/fit) adjusts and where
// it starts.
type FitOptions struct {
	// Params selects the corrections to fit; 0 means all three.
	Params Param
	// Start is the starting point and the value of every parameter not
	// fitted. ActivationFactor 0 means 1. Start.Wiggle must be the
	// release's default (> 0) when the wiggle is fitted.
	Start estimate.Corrections
	// LossScale is the Cauchy scale on relative residuals; 0 means DefaultLossScale.
	LossScale float64
}

// FitReport says how well the corrections explain the observations.
type FitReport struct {
	N int
	// Params are the fitted parameters' JSON names.
	Params []string
	// ResidualsBefore and ResidualsAfter are (predicted − reported)/reported
	// × 100 per sample, with Start and with the fitted corrections.
	ResidualsBefore, ResidualsAfter []float64
	// MedianAbsPct* and P95AbsPct* summarize the absolute residuals.
	MedianAbsPctBefore, P95AbsPctBefore float64
	MedianAbsPctAfter, P95AbsPctAfter   float64
	// MarginPct is the absolute residual after the fit that covers 95% of
	// the samples (nearest rank), and SafeSide the side of the prediction
	// to plan on: "below" when the prediction was above the reported budget
	// at least as often as under it, else "above" (the real budget tends to
	// be larger than predicted).
	MarginPct float64
	SafeSide  string
	// LossBefore and LossAfter are the robust loss at Start and at the fit.
	LossBefore, LossAfter float64
	// Outliers are the IDs of samples whose residual after the first pass
	// exceeded OutlierScales × the loss scale; the final fit leaves them
	// out, the residuals and the margin do not.
	Outliers []string
	// Evaluations counts predict calls.
	Evaluations int
}

// ErrFit marks a fit that cannot be done (no samples, a failing predictor).
var ErrFit = errors.New("calibrate: cannot fit")
