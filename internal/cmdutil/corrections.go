package cmdutil

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vramcalc/vramcalc/calibrate"
	"github.com/vramcalc/vramcalc/estimate"
)

// LoadCorrections reads a calibrate file for an estimate and says where it
// was fitted on something else.
func LoadCorrections(path string, eng estimate.Engine, hw estimate.Hardware) (estimate.Corrections, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return estimate.Corrections{}, nil, WithHint(fmt.Errorf("--corrections: %w", err), "write one with vramcalc calibrate FILE… --out corrections.json")
	}
	defer f.Close()
	file, err := calibrate.ReadFile(f)
	if err != nil {
		return estimate.Corrections{}, nil, WithHint(fmt.Errorf("--corrections %s: %w", filepath.Base(path), err), "write it again with vramcalc calibrate")
	}
	if eng.Name != "tgi" || file.Engine != "tgi" {
		return estimate.Corrections{}, nil, Usage("corrections apply to --engine tgi only for now", "--corrections are fitted for %s; the estimate is for %s", file.Engine, eng.Name)
	}
	var notes []string
	if file.GPU != "" && file.GPU != "all" && hw.GPU.Name != "" && file.GPU != hw.GPU.Name {
		notes = append(notes, fmt.Sprintf("the corrections were fitted on %s, this estimate is for %s", file.GPU, hw.GPU.Name))
	}
	switch tp := file.TensorParallel; {
	case tp > 0 && hw.Count > 0 && hw.Count != tp:
		notes = append(notes, fmt.Sprintf("the corrections were fitted at tensor-parallel %d, this estimate is at %d: NCCL's buffers and the sharded activations differ, so they may not carry over", tp, hw.Count))
	case tp > 0 && hw.Count == 0:
		notes = append(notes, fmt.Sprintf("the corrections were fitted at tensor-parallel %d and are applied to every degree", tp))
	}
	ver := eng.Version
	if ver == "" {
		ver = estimate.DefaultTGIVersion
	}
	if file.EngineVersion != "" && !slices.Contains(strings.Split(file.EngineVersion, ","), ver) {
		notes = append(notes, fmt.Sprintf("the corrections were fitted on TGI %s, this estimate is for %s", file.EngineVersion, ver))
	}
	return file.Corrections(), notes, nil
}
