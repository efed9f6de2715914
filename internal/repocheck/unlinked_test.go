package repocheck

import (
	"os/exec"
	"strings"
	"testing"
)

// unlinked are packages that a light program links and what they must not
// link in turn. Package net links runtime/cgo, which makes a default build a
// dynamic executable that is slow to start; probe (HTTP polling of the
// engine, containers) and NVML are validate's alone. calibrate still links
// net through hfmeta's Hub client, so net is not checked there yet.
var unlinked = map[string][]string{
	"github.com/vramcalc/vramcalc/probe/results": {"net", "net/http", "runtime/cgo",
		"github.com/vramcalc/vramcalc/probe", "github.com/vramcalc/vramcalc/nvml", "github.com/NVIDIA/go-nvml/pkg/nvml"},
	"github.com/vramcalc/vramcalc/calibrate": {"github.com/vramcalc/vramcalc/probe",
		"github.com/vramcalc/vramcalc/nvml", "github.com/NVIDIA/go-nvml/pkg/nvml"},
}

// TestUnlinked lists each package's dependencies with go list and fails,
// naming the package, when one of those it must not link is among them.
func TestUnlinked(t *testing.T) {
	args := []string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	for pkg := range unlinked {
		args = append(args, pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(unlinked) {
		t.Fatalf("go list answered for %d packages, want %d:\n%s", len(lines), len(unlinked), out)
	}
	for _, line := range lines {
		pkg, deps, _ := strings.Cut(line, " ")
		have := map[string]bool{}
		for _, d := range strings.Fields(deps) {
			have[d] = true
		}
		if !have["github.com/vramcalc/vramcalc/estimate"] {
			t.Errorf("%s: estimate not among its %d dependencies: the check is not looking at the package", pkg, len(have))
		}
		for _, f := range unlinked[pkg] {
			if have[f] {
				t.Errorf("%s links %s", pkg, f)
			}
		}
	}
}
