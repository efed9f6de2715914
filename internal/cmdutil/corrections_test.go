package cmdutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

// TestLoadCorrectionsTP: corrections fitted at one tensor-parallel degree
// say so when applied at another (and in a plan, which sweeps them); a file
// without the degree (written before it was recorded) says nothing.
func TestLoadCorrectionsTP(t *testing.T) {
	write := func(tp string) string {
		p := filepath.Join(t.TempDir(), "c.json")
		body := `{"version": 1, "engine": "tgi", "engine_version": "3.3.7", "gpu": "NVIDIA L4",` + tp +
			` "activation_factor": 1.02, "overhead_bytes": 0, "wiggle": 0, "margin_pct": 1, "safe_side": "below", "fit": {"n": 3, "params": ["overhead_bytes"], "median_abs_pct_before": 1, "median_abs_pct_after": 0.5, "p95_abs_pct_before": 2, "p95_abs_pct_after": 1}}`
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	eng := estimate.Engine{Name: "tgi", Version: "3.3.7"}
	l4 := estimate.GPU{Name: "NVIDIA L4"}
	for _, c := range []struct {
		tp    string
		count int
		want  string // "" : no note about the degree
	}{
		{` "tensor_parallel": 1,`, 2, "fitted at tensor-parallel 1, this estimate is at 2"},
		{` "tensor_parallel": 2,`, 2, ""},
		{` "tensor_parallel": 2,`, 0, "fitted at tensor-parallel 2 and are applied to every degree"},
		{``, 8, ""},
	} {
		corr, notes, err := LoadCorrections(write(c.tp), eng, estimate.Hardware{GPU: l4, Count: c.count})
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(notes, "\n")
		if (c.want == "") != !strings.Contains(joined, "tensor-parallel") || !strings.Contains(joined, c.want) {
			t.Errorf("tp%q on %d GPUs: notes %q, want %q", c.tp, c.count, notes, c.want)
		}
		if corr.ActivationFactor != 1.02 {
			t.Errorf("factor %v", corr.ActivationFactor)
		}
	}
}
