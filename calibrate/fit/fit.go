// Package fit fits the estimate's corrections to observed KV budgets with
// Nelder–Mead (gonum optimize). It is apart from package calibrate so that
// only the command that fits links gonum; calibrate chooses what to fit
// (Group.FitOptions) and predicts (Group.Predict), fit finds the values.
package fit

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/optimize"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/estimate"
)

// Corrections adjusts the selected corrections so that predict's KV budgets
// match the samples, minimising a Cauchy loss on relative residuals with
// Nelder–Mead. predict returns one predicted budget per sample, in order,
// for the given corrections; a start predicted to fail is a budget of 0 (a
// residual of −100%). Samples still off by more than
// calibrate.OutlierScales loss scales after a first pass are left out of a
// second. Errors wrap calibrate.ErrFit.
func Corrections(obs []calibrate.Sample, predict func(estimate.Corrections) ([]float64, error), opt calibrate.FitOptions) (estimate.Corrections, calibrate.FitReport, error) {
	rep := calibrate.FitReport{N: len(obs)}
	if err := checkSamples(obs); err != nil {
		return opt.Start, rep, err
	}
	p := newProblem(obs, predict, opt, &rep)
	rep.Params = p.params.Names()
	if err := p.checkWiggle(); err != nil {
		return opt.Start, rep, err
	}
	r0, err := p.residuals(p.start)
	if err != nil {
		return opt.Start, rep, fmt.Errorf("%w: %w", calibrate.ErrFit, err)
	}
	rep.ResidualsBefore, rep.LossBefore = percents(r0), p.loss(r0)

	best, bestF, err := p.minimize(p.x0())
	if err != nil {
		return opt.Start, rep, err
	}
	// The Cauchy loss bounds an outlier's pull but does not zero it, and on
	// one card the overhead and the wiggle are nearly interchangeable, so a
	// small pull moves them far: a second pass leaves the outliers out.
	rep.Outliers = p.markOutliers(best, bestF)
	if n := len(rep.Outliers); n > 0 && n < len(obs) {
		if best, bestF, err = p.minimize(best); err != nil {
			return opt.Start, rep, err
		}
	}
	if math.IsInf(bestF, 1) && p.predErr != nil {
		return opt.Start, rep, fmt.Errorf("%w: %w", calibrate.ErrFit, p.predErr)
	}
	out, _ := p.corrections(best)
	r1, err := p.residuals(out)
	if err != nil {
		return opt.Start, rep, fmt.Errorf("%w: %w", calibrate.ErrFit, err)
	}
	rep.ResidualsAfter, rep.LossAfter = percents(r1), p.loss(r1)
	summarize(&rep, r1)
	out.MarginPct, out.SafeSide = rep.MarginPct, rep.SafeSide
	return out, rep, nil
}

// checkSamples refuses an empty fit and a sample without a positive budget.
func checkSamples(obs []calibrate.Sample) error {
	if len(obs) == 0 {
		return fmt.Errorf("%w: no observations", calibrate.ErrFit)
	}
	for _, o := range obs {
		if !(o.Reported > 0) {
			return fmt.Errorf("%w: observation %s reports a KV budget of %g", calibrate.ErrFit, o.ID, o.Reported)
		}
	}
	return nil
}

// problem is one fit: the samples, the predictor, what is fitted from where,
// and what the passes share.
type problem struct {
	obs     []calibrate.Sample
	predict func(estimate.Corrections) ([]float64, error)
	params  calibrate.Param
	start   estimate.Corrections
	scale   float64
	// outlier marks samples left out of the loss after the first pass.
	outlier []bool
	// predErr is the last error of predict inside the objective.
	predErr error
	// rep counts the evaluations.
	rep *calibrate.FitReport
}

// newProblem applies the defaults: all three corrections, the default loss
// scale, an activation factor of 1.
func newProblem(obs []calibrate.Sample, predict func(estimate.Corrections) ([]float64, error), opt calibrate.FitOptions, rep *calibrate.FitReport) *problem {
	p := &problem{obs: obs, predict: predict, params: opt.Params, start: opt.Start, scale: opt.LossScale,
		outlier: make([]bool, len(obs)), rep: rep}
	if p.params == 0 {
		p.params = calibrate.ParamsAll
	}
	if p.scale <= 0 {
		p.scale = calibrate.DefaultLossScale
	}
	if p.start.ActivationFactor == 0 {
		p.start.ActivationFactor = 1
	}
	return p
}

// checkWiggle: fitting the wiggle needs the release's default to start from.
func (p *problem) checkWiggle() error {
	if p.params&calibrate.ParamWiggle != 0 && !(p.start.Wiggle > 0 && p.start.Wiggle < 1) {
		return fmt.Errorf("%w: fitting the wiggle needs the release's default as Start.Wiggle (got %g)", calibrate.ErrFit, p.start.Wiggle)
	}
	return nil
}

// x0 holds the fitted parameters at the start, in units of similar size:
// the factor, the overhead in GiB and the wiggle.
func (p *problem) x0() []float64 {
	var x []float64
	if p.params&calibrate.ParamActivation != 0 {
		x = append(x, p.start.ActivationFactor)
	}
	if p.params&calibrate.ParamOverhead != 0 {
		x = append(x, p.start.OverheadBytes.GiBs())
	}
	if p.params&calibrate.ParamWiggle != 0 {
		x = append(x, p.start.Wiggle)
	}
	return x
}

// corrections turns x back into corrections, and says whether they are in
// range (factor in (0, 10), overhead under 1 TiB, wiggle in (0, 1)).
func (p *problem) corrections(x []float64) (estimate.Corrections, bool) {
	c, i := p.start, 0
	if p.params&calibrate.ParamActivation != 0 {
		c.ActivationFactor, i = x[i], i+1
	}
	if p.params&calibrate.ParamOverhead != 0 {
		c.OverheadBytes, i = estimate.Bytes(math.Round(x[i]*float64(estimate.GiB))), i+1
	}
	if p.params&calibrate.ParamWiggle != 0 {
		c.Wiggle = x[i]
	}
	ok := c.ActivationFactor > 0 && c.ActivationFactor < 10 && math.Abs(c.OverheadBytes.GiBs()) < 1024 &&
		(p.params&calibrate.ParamWiggle == 0 || (c.Wiggle > 0 && c.Wiggle < 1))
	return c, ok
}

// residuals are (predicted − reported) / reported per sample.
func (p *problem) residuals(c estimate.Corrections) ([]float64, error) {
	p.rep.Evaluations++
	pred, err := p.predict(c)
	if err != nil {
		return nil, err
	}
	if len(pred) != len(p.obs) {
		return nil, fmt.Errorf("predictor returned %d budgets for %d observations", len(pred), len(p.obs))
	}
	r := make([]float64, len(p.obs))
	for i, o := range p.obs {
		r[i] = (pred[i] - o.Reported) / o.Reported
	}
	return r, nil
}

// loss is the Cauchy loss of the residuals not marked as outliers.
func (p *problem) loss(r []float64) float64 {
	var l float64
	for i, v := range r {
		if p.outlier[i] {
			continue
		}
		z := v / p.scale
		l += math.Log1p(z * z)
	}
	return l * p.scale * p.scale / 2
}

// objective is the loss at x; +Inf out of range or when predict fails.
func (p *problem) objective(x []float64) float64 {
	c, ok := p.corrections(x)
	if !ok {
		return math.Inf(1)
	}
	r, err := p.residuals(c)
	if err != nil {
		p.predErr = err
		return math.Inf(1)
	}
	return p.loss(r)
}

// minimize runs Nelder–Mead from x three times, each from the best point so
// far: the simplex can collapse on the piecewise-constant loss (budgets are
// whole blocks). With nothing to fit it only evaluates x.
func (p *problem) minimize(x []float64) ([]float64, float64, error) {
	best := append([]float64(nil), x...)
	bestF := p.objective(best)
	if len(best) == 0 {
		return best, bestF, nil
	}
	for range 3 {
		res, err := optimize.Minimize(optimize.Problem{Func: p.objective}, best, &optimize.Settings{
			Converger:       &optimize.FunctionConverge{Absolute: 1e-14, Relative: 1e-12, Iterations: 60},
			FuncEvaluations: 3000,
		}, &optimize.NelderMead{SimplexSize: 0.05})
		if res == nil {
			return nil, 0, fmt.Errorf("%w: nelder-mead: %w", calibrate.ErrFit, err)
		}
		if res.F < bestF {
			best, bestF = res.X, res.F
		}
	}
	return best, bestF, nil
}

// markOutliers marks the samples still off by more than OutlierScales loss
// scales at best and returns their IDs; none when best is out of range,
// infinite or cannot be predicted.
func (p *problem) markOutliers(best []float64, bestF float64) []string {
	c, ok := p.corrections(best)
	if !ok || math.IsInf(bestF, 1) {
		return nil
	}
	r, err := p.residuals(c)
	if err != nil {
		return nil
	}
	var ids []string
	for i, v := range r {
		if math.Abs(v) > calibrate.OutlierScales*p.scale {
			p.outlier[i] = true
			ids = append(ids, p.obs[i].ID)
		}
	}
	return ids
}

// summarize fills the report's statistics from the residuals after the
// fit r1: median and 95th percentile before and after, the margin, and the
// side to plan on ("below" unless the prediction fell short more often
// than it overshot).
func summarize(rep *calibrate.FitReport, r1 []float64) {
	rep.MedianAbsPctBefore, rep.P95AbsPctBefore = absStats(rep.ResidualsBefore)
	rep.MedianAbsPctAfter, rep.P95AbsPctAfter = absStats(rep.ResidualsAfter)
	rep.MarginPct = rep.P95AbsPctAfter
	var over, under int
	for _, v := range r1 {
		switch {
		case v > 0:
			over++
		case v < 0:
			under++
		}
	}
	rep.SafeSide = "below"
	if under > over {
		rep.SafeSide = "above"
	}
}

func percents(r []float64) []float64 {
	out := make([]float64, len(r))
	for i, v := range r {
		out[i] = v * 100
	}
	return out
}

// absStats is the median and the 95th percentile (nearest rank: the
// ⌈0.95·n⌉-th smallest) of |v|.
func absStats(v []float64) (median, p95 float64) {
	if len(v) == 0 {
		return 0, 0
	}
	a := make([]float64, len(v))
	for i, x := range v {
		a[i] = math.Abs(x)
	}
	sort.Float64s(a)
	n := len(a)
	if n%2 == 1 {
		median = a[n/2]
	} else {
		median = (a[n/2-1] + a[n/2]) / 2
	}
	return median, a[int(math.Ceil(0.95*float64(n)))-1]
}
