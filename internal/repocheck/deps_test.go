package repocheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// depRules are the packages each program or library must not link, even
// indirectly, so that heavy dependencies cost nothing to what does not use
// them. A pattern ending in "/..." is a path and everything below it.
var depRules = []struct {
	pkg    string // as go list takes it
	forbid []string
	why    string
}{
	{"./estimate", nil, // nil: anything outside the standard library
		"the estimator is the pure core: plain values in, breakdown and boundary out, standard library only"},
	{"./cmd/vramcalc", []string{"net", "crypto/tls", "runtime/cgo", "os/user",
		"github.com/moby/...", "github.com/NVIDIA/go-nvml/...", "gonum.org/...", "github.com/schollz/progressbar/...", "github.com/olekukonko/..."},
		"vramcalc is the light commands: net (and through it cgo, which makes a default build a dynamic executable) belongs in vramcalc-hub, Docker and NVML in vramcalc-validate, fitting and plotting in vramcalc-calibrate and vramcalc-plot"},
	{"./hfmeta", []string{"net/...", "crypto/...", "gonum.org/..."},
		"hfmeta reads local directories, the HF cache and the catalog; its Hub client is hfmeta/hub"},
	{"./calibrate", []string{"net", "gonum.org/..."},
		"vramcalc links calibrate (accuracy, --corrections): fitting belongs in calibrate/fit, probe's Docker and NVML clients in validate"},
	{"./load", []string{"github.com/vramcalc/vramcalc/probe/...", "github.com/moby/...", "github.com/NVIDIA/go-nvml/..."},
		"load drives a server that already runs: the engines' HTTP surface is its own, Docker and the launches are probe's, NVML comes in as an nvml.Sampler"},
	{"./probe", []string{"github.com/moby/...", "github.com/containerd/...", "github.com/opencontainers/..."},
		"probe is the engine-neutral core; the Docker Engine client is probe/docker"},
	{"./internal/simkit", []string{"github.com/vramcalc/vramcalc/estimate", "github.com/vramcalc/vramcalc/probe/...", "github.com/vramcalc/vramcalc/hfmeta/..."},
		"the simulators are the ground truth the estimator is tested against: their physics are written from the engines' source, never from estimate"},
	{"./cmd/tgisim", []string{"github.com/vramcalc/vramcalc/estimate", "github.com/vramcalc/vramcalc/probe/...", "github.com/vramcalc/vramcalc/hfmeta/..."},
		"the simulators are the ground truth the estimator is tested against: their physics are written from the engines' source, never from estimate"},
	{"./cmd/vllmsim", []string{"github.com/vramcalc/vramcalc/estimate", "github.com/vramcalc/vramcalc/probe/...", "github.com/vramcalc/vramcalc/hfmeta/..."},
		"the simulators are the ground truth the estimator is tested against: their physics are written from the engines' source, never from estimate"},
	{"./cmd/sglangsim", []string{"github.com/vramcalc/vramcalc/estimate", "github.com/vramcalc/vramcalc/probe/...", "github.com/vramcalc/vramcalc/hfmeta/..."},
		"the simulators are the ground truth the estimator is tested against: their physics are written from the engines' source, never from estimate"},
}

// listedPackage is what go list -json says of a package.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// TestDependencies runs go list -deps, with CGO_ENABLED as a default build
// has it (unset), and fails naming the chain of imports by which a
// package links what its rule forbids.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the packages' dependencies")
	}
	args := []string{"list", "-deps", "-json=ImportPath,Imports,Standard"}
	for _, r := range depRules {
		args = append(args, r.pkg)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = moduleRoot(t)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CGO_ENABLED=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	graph := make(map[string]listedPackage)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		graph[p.ImportPath] = p
	}
	const module = "github.com/vramcalc/vramcalc/"
	if len(graph) < 100 || graph[module+"estimate"].ImportPath == "" {
		t.Fatalf("go list gave %d packages without %sestimate; want the rules' packages and their dependencies", len(graph), module)
	}

	for _, r := range depRules {
		root := module + strings.TrimPrefix(r.pkg, "./")
		t.Run(strings.TrimPrefix(r.pkg, "./"), func(t *testing.T) {
			bad := func(p listedPackage) bool {
				if r.forbid == nil {
					return !p.Standard && p.ImportPath != root
				}
				return slices.ContainsFunc(r.forbid, func(f string) bool { return matchPattern(f, p.ImportPath) })
			}
			for _, chain := range forbiddenChains(graph, root, bad) {
				t.Errorf("%s links %s (%s): %s", r.pkg, chain[len(chain)-1], r.why, strings.Join(chain, " → "))
			}
		})
	}
}

// matchPattern reports whether path is pattern, or below it for a pattern
// ending in "/...".
func matchPattern(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}

// forbiddenChains returns, for each package below root that bad reports,
// the shortest chain of imports from root to it, in the order go list
// would find them (breadth first, imports sorted).
func forbiddenChains(graph map[string]listedPackage, root string, bad func(listedPackage) bool) [][]string {
	from := map[string]string{root: ""}
	queue := []string{root}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != root && bad(graph[p]) {
			var chain []string
			for q := p; q != ""; q = from[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			chains = append(chains, chain)
			continue // what it imports in turn is its own matter
		}
		for _, imp := range graph[p].Imports {
			if _, seen := from[imp]; !seen {
				from[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return chains
}

// TestForbiddenChains pins the chain finding on a small graph: the
// shortest chain to each forbidden package, nothing below one.
func TestForbiddenChains(t *testing.T) {
	graph := map[string]listedPackage{
		"m/cmd":    {ImportPath: "m/cmd", Imports: []string{"m/a", "m/b"}},
		"m/a":      {ImportPath: "m/a", Imports: []string{"m/c", "fmt"}},
		"m/b":      {ImportPath: "m/b", Imports: []string{"net/http"}},
		"m/c":      {ImportPath: "m/c", Imports: []string{"net/http"}},
		"fmt":      {ImportPath: "fmt", Standard: true},
		"net/http": {ImportPath: "net/http", Standard: true, Imports: []string{"net", "crypto/tls"}},
		"net":      {ImportPath: "net", Standard: true},
	}
	got := forbiddenChains(graph, "m/cmd", func(p listedPackage) bool { return matchPattern("net/...", p.ImportPath) || p.ImportPath == "net" })
	want := [][]string{{"m/cmd", "m/b", "net/http"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("chains %q, want %q", got, want)
	}
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"gonum.org/...", "gonum.org/v1/plot", true},
		{"gonum.org/...", "gonum.org", true},
		{"gonum.org/...", "gonum.org.evil/x", false},
		{"net", "net/http", false},
		{"net", "net", true},
		{"crypto/...", "crypto", true},
	} {
		if got := matchPattern(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matchPattern(%q, %q) = %v", tt.pattern, tt.path, got)
		}
	}
}
