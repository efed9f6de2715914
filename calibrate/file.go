package calibrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/vramcalc/vramcalc/estimate"
)

// FileVersion is the corrections file format this package writes and reads.
const FileVersion = 1

// ErrBadCorrections marks a corrections file that cannot be used.
var ErrBadCorrections = errors.New("calibrate: bad corrections file")

// File is the JSON corrections file `vramcalc calibrate` writes and
// `vramcalc estimate --corrections` reads.
type File struct {
	Version       int    `json:"version"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version"`
	GPU           string `json:"gpu"`
	// TensorParallel is the shard count the starts ran at (0 in files
	// written before it was recorded): corrections fitted at TP 1 do not
	// carry NCCL's buffers or the sharded activations of TP 8.
	TensorParallel   int     `json:"tensor_parallel,omitempty"`
	ActivationFactor float64 `json:"activation_factor"`
	OverheadBytes    int64   `json:"overhead_bytes"`
	// CUDAGraphBytes is vLLM's captured-graph memory beyond the estimate's,
	// measured from its log (0: none measured).
	CUDAGraphBytes int64 `json:"cuda_graph_bytes,omitempty"`
	// Wiggle is 0 when the release's default was kept.
	Wiggle    float64 `json:"wiggle"`
	MarginPct float64 `json:"margin_pct"`
	SafeSide  string  `json:"safe_side"`
	Fit       FitInfo `json:"fit"`
}

// FitInfo is the fit's summary in the file.
type FitInfo struct {
	N                  int      `json:"n"`
	Params             []string `json:"params"`
	MedianAbsPctBefore float64  `json:"median_abs_pct_before"`
	MedianAbsPctAfter  float64  `json:"median_abs_pct_after"`
	P95AbsPctBefore    float64  `json:"p95_abs_pct_before"`
	P95AbsPctAfter     float64  `json:"p95_abs_pct_after"`
	Outliers           []string `json:"outliers,omitempty"`
	// Sources are the files the observations came from.
	Sources []string `json:"sources,omitempty"`
}

// NewFile puts fitted corrections and their report in the file format.
func NewFile(c estimate.Corrections, rep FitReport) File {
	return File{
		Version: FileVersion, Engine: c.Engine, EngineVersion: c.EngineVersion, GPU: c.GPU, TensorParallel: c.TensorParallel,
		ActivationFactor: round(c.ActivationFactor, 6), OverheadBytes: int64(c.OverheadBytes), CUDAGraphBytes: int64(c.CUDAGraphBytes), Wiggle: round(c.Wiggle, 6),
		MarginPct: round(c.MarginPct, 4), SafeSide: c.SafeSide,
		Fit: FitInfo{
			N: rep.N, Params: rep.Params, Outliers: rep.Outliers,
			MedianAbsPctBefore: round(rep.MedianAbsPctBefore, 4), MedianAbsPctAfter: round(rep.MedianAbsPctAfter, 4),
			P95AbsPctBefore: round(rep.P95AbsPctBefore, 4), P95AbsPctAfter: round(rep.P95AbsPctAfter, 4),
		},
	}
}

// Corrections is the file's corrections for the estimate.
func (f File) Corrections() estimate.Corrections {
	return estimate.Corrections{
		Version: f.Version, Engine: f.Engine, EngineVersion: f.EngineVersion, GPU: f.GPU, TensorParallel: f.TensorParallel,
		ActivationFactor: f.ActivationFactor, OverheadBytes: estimate.Bytes(f.OverheadBytes), CUDAGraphBytes: estimate.Bytes(f.CUDAGraphBytes), Wiggle: f.Wiggle,
		MarginPct: f.MarginPct, SafeSide: f.SafeSide,
	}
}

// WriteFile writes f as indented JSON.
func WriteFile(w io.Writer, f File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("calibrate: write corrections: %w", err)
	}
	return nil
}

// ReadFile reads and checks a corrections file: the version must be
// FileVersion, unknown fields are refused (a typo would silently drop a
// correction), and every value must be one the estimate accepts.
func ReadFile(r io.Reader) (File, error) {
	var f File
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("%w: %w", ErrBadCorrections, err)
	}
	if f.Version != FileVersion {
		return f, fmt.Errorf("%w: version %d (this vramcalc reads version %d)", ErrBadCorrections, f.Version, FileVersion)
	}
	if f.Engine == "" {
		return f, fmt.Errorf("%w: no engine", ErrBadCorrections)
	}
	switch {
	case f.ActivationFactor < 0 || math.IsNaN(f.ActivationFactor):
		return f, fmt.Errorf("%w: activation_factor %g must be ≥ 0", ErrBadCorrections, f.ActivationFactor)
	case f.Wiggle < 0 || f.Wiggle >= 1 || math.IsNaN(f.Wiggle):
		return f, fmt.Errorf("%w: wiggle %g must be in (0, 1), or 0 for the release's default", ErrBadCorrections, f.Wiggle)
	case f.MarginPct < 0 || math.IsNaN(f.MarginPct):
		return f, fmt.Errorf("%w: margin_pct %g must be ≥ 0", ErrBadCorrections, f.MarginPct)
	case f.SafeSide != "below" && f.SafeSide != "above":
		return f, fmt.Errorf("%w: safe_side %q (want below or above)", ErrBadCorrections, f.SafeSide)
	}
	return f, nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
