package calibrate

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

func TestFileRoundTrip(t *testing.T) {
	c := estimate.Corrections{Engine: "tgi", EngineVersion: "3.3.7", GPU: "NVIDIA L4", TensorParallel: 2, ActivationFactor: 1.0412345678,
		OverheadBytes: 268_435_456, MarginPct: 2.345678, SafeSide: "below"}
	rep := FitReport{N: 12, Params: []string{"activation_factor", "overhead_bytes"}, MedianAbsPctBefore: 3.1, MedianAbsPctAfter: 0.8, P95AbsPctBefore: 6.2, P95AbsPctAfter: 2.345678}
	var buf bytes.Buffer
	if err := WriteFile(&buf, NewFile(c, rep)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": 1`, `"engine": "tgi"`, `"engine_version": "3.3.7"`, `"gpu": "NVIDIA L4"`, `"tensor_parallel": 2`,
		`"activation_factor": 1.041235`, `"overhead_bytes": 268435456`, `"wiggle": 0`, `"margin_pct": 2.3457`, `"safe_side": "below"`,
		`"n": 12`, `"median_abs_pct_before": 3.1`, `"median_abs_pct_after": 0.8`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("file lacks %s:\n%s", want, buf.String())
		}
	}
	f, err := ReadFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Corrections()
	// 268,435,456 B = 256 MiB; the factor is kept to 6 decimals.
	if got.OverheadBytes != 256*estimate.MiB || got.ActivationFactor != 1.041235 || got.Version != 1 || got.SafeSide != "below" || got.GPU != "NVIDIA L4" || got.TensorParallel != 2 {
		t.Errorf("read back %+v", got)
	}
}

func TestReadFileRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"version 2":     `{"version":2,"engine":"tgi","safe_side":"below"}`,
		"unknown field": `{"version":1,"engine":"tgi","safe_side":"below","activaton_factor":1.1}`,
		"wiggle 1.5":    `{"version":1,"engine":"tgi","safe_side":"below","wiggle":1.5}`,
		"no engine":     `{"version":1,"safe_side":"below"}`,
		"side":          `{"version":1,"engine":"tgi","safe_side":"left"}`,
		"not json":      `version: 1`,
	} {
		if _, err := ReadFile(strings.NewReader(text)); !errors.Is(err, ErrBadCorrections) {
			t.Errorf("%s: err = %v, want ErrBadCorrections", name, err)
		}
	}
}
