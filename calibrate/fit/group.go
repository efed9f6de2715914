package fit

import (
	"fmt"

	"github.com/vramcalc/vramcalc/calibrate"
)

// Group fits the corrections g's starts can tell apart (g.FitOptions) to
// their reported budgets, predicting with g.Predict.
func Group(g calibrate.Group) (calibrate.Calibration, error) {
	c, rep, err := Corrections(g.Samples(), g.Predict, g.FitOptions())
	if err != nil {
		return calibrate.Calibration{}, fmt.Errorf("calibrate %s on %s: %w", g.Engine, g.GPU, err)
	}
	return g.Calibration(c, rep), nil
}
