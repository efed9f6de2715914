package load

import (
	"fmt"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Sample is one reading of a GPU's used memory, at a time since the load
// began.
type Sample struct {
	At   time.Duration
	Used uint64
}

// Failure is one failure of a load test, as `load -o json` lists it.
type Failure struct {
	// Kind is "runtime_oom", "memory_trend" or "errors".
	Kind string `json:"kind"`
	// AtS is when it happened, in seconds since the load began.
	AtS    float64 `json:"at_s"`
	Detail string  `json:"detail"`
}

// The thresholds of Trend. Memory that grows by less than minGrowth over
// the window (or by less than 1/200 of the card) is allocator noise; a fit
// worse than minR2 is a sawtooth or steps, not a trend; a second half that
// grows at less than half the whole window's rate has levelled off (a
// one-time allocation, such as a larger batch's activations).
const (
	minGrowth  = 256 << 20
	minR2      = 0.6
	settleFrac = 0.2
	minSamples = 20
)

// Trend reports a memory_trend failure when the used memory of one GPU
// (total bytes) grows steadily over the samples after the first fifth
// (the settling of the pool and the graphs): a least-squares line through
// them (stat.LinearRegression) rises by at least max(256 MiB, total/200),
// fits with R² ≥ 0.6, and its second half still rises at half the rate or
// more. AtS is the first sample above the window's starting level plus that
// growth; Detail gives the rate and when, at that rate, the card is full.
func Trend(samples []Sample, total uint64) (Failure, bool) {
	if len(samples) < minSamples {
		return Failure{}, false
	}
	w := samples[int(float64(len(samples))*settleFrac):]
	slope, r2 := fit(w)
	span := (w[len(w)-1].At - w[0].At).Seconds()
	growth := max(float64(minGrowth), float64(total)/200)
	if span <= 0 || slope*span < growth || r2 < minR2 {
		return Failure{}, false
	}
	if late, _ := fit(w[len(w)/2:]); late < slope/2 {
		return Failure{}, false
	}
	start := float64(w[0].Used)
	at := w[len(w)-1].At
	for _, s := range w {
		if float64(s.Used) >= start+growth {
			at = s.At
			break
		}
	}
	last := float64(w[len(w)-1].Used)
	full := "the card"
	if left := float64(total) - last; left > 0 {
		full = fmt.Sprintf("the card in %.0f s more", left/slope)
	}
	return Failure{Kind: "memory_trend", AtS: at.Seconds(),
		Detail: fmt.Sprintf("used memory grew %.0f MiB/min (R² %.2f) from %.0f s; at that rate it fills %s", slope*60/(1<<20), r2, w[0].At.Seconds(), full)}, true
}

// fit is the least-squares slope (bytes per second) of used memory over
// time and its R².
func fit(s []Sample) (slope, r2 float64) {
	x, y := make([]float64, len(s)), make([]float64, len(s))
	for i, v := range s {
		x[i], y[i] = v.At.Seconds(), float64(v.Used)
	}
	alpha, beta := stat.LinearRegression(x, y, nil, false)
	return beta, stat.RSquared(x, y, nil, alpha, beta)
}
