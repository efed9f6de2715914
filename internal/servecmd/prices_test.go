package servecmd

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// TestServerPrices: the server's --prices file prices every plan, as
// vramcalc plan --prices does; a request's price=GPU=USD (plan --price)
// overrides it for its GPU; a request naming a file is refused; a bad file
// is refused at start. L4 at $0.80: 2 × L4 cost $1.60 an hour.
func TestServerPrices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.csv")
	if err := os.WriteFile(path, []byte("gpu,price\nl4,0.80\nh100-sxm,2.49\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := offlineVars(t)
	srv := start(t, Options{Prices: path}, vars)
	base := []string{"plan", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4,h100-sxm", "--concurrency", "4", "-o", "json"}
	for _, c := range []struct {
		query string
		args  []string
		first float64
	}{
		{"/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4,h100-sxm&concurrency=4", append(base, "--prices", path), 1.60},
		{"/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4,h100-sxm&concurrency=4&price=l4=2", append(base, "--prices", path, "--price", "l4=2"), 2.49},
	} {
		code, _, body := get(t, srv, c.query)
		if want := cliOut(t, vars, c.args...); code != 200 || body != want {
			t.Errorf("%s: HTTP %d, answer differs from vramcalc %s", c.query, code, strings.Join(c.args, " "))
		}
		var p struct {
			Setups []struct {
				Cost float64 `json:"hourly_cost"`
			}
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Setups) == 0 || p.Setups[0].Cost != c.first {
			t.Errorf("%s: the cheapest set-up %+v (%v), want $%.2f an hour", c.query, p.Setups, err, c.first)
		}
	}
	if code, _, body := get(t, srv, "/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&prices=/etc/passwd"); code != 400 || !strings.Contains(body, "price=h100-sxm=2.49") {
		t.Errorf("prices= in a request: HTTP %d %s", code, body)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("gpu,price\nnot-a-gpu,1\n"), 0o644)
	if _, err := NewHandler(Options{Prices: bad}, cmdutil.Env{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "not-a-gpu") || cmdutil.Hint(err) == "" {
		t.Errorf("a bad --prices file: %v; want an error at start with a hint", err)
	}
}

// TestPlanPriceFlag: plan --price GPU=USD prices set-ups without a file,
// over --prices for the GPUs it names; a malformed one is a usage error.
func TestPlanPriceFlag(t *testing.T) {
	vars := offlineVars(t)
	out := cliOut(t, vars, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "l4", "--concurrency", "4", "--price", "l4=0.5", "-o", "json")
	var p struct {
		Setups []struct {
			Count int     `json:"count"`
			Cost  float64 `json:"hourly_cost"`
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Setups) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, s := range p.Setups {
		if s.Cost != 0.5*float64(s.Count) { // n × $0.50
			t.Errorf("%d × L4 at $0.50: $%v an hour", s.Count, s.Cost)
		}
	}
	for _, bad := range []string{"l4", "l4=cheap", "=1", "nope=1"} {
		_, errOut, code := cmdtest.RunEnv(t, cliRoot, vars, "plan", "meta-llama/Llama-3.1-8B-Instruct", "--price", bad)
		if code == 0 || !strings.Contains(errOut, "hint:") {
			t.Errorf("--price %s: exit %d, %s", bad, code, errOut)
		}
	}
}

// TestExportFlags: --export takes none of the server's files or address,
// and a program built without the engine says how to build it.
func TestExportFlags(t *testing.T) {
	dir := t.TempDir()
	for _, flag := range []string{"--prices=p.csv", "--corrections=c.json", "--models-dir=.", "--addr=127.0.0.1:0"} {
		_, errOut, code := cmdtest.RunEnv(t, Root, nil, "--export", dir, flag)
		if code != cmdutil.ExitUsage || !strings.Contains(errOut, "--export does not take") {
			t.Errorf("--export with %s: exit %d, %s", flag, code, errOut)
		}
	}
	out, errOut, code := cmdtest.RunEnv(t, Root, nil, "--export", filepath.Join(dir, "site"))
	if _, err := fs.Stat(Built(), "vramcalc.wasm.gz"); err != nil {
		// Built without go generate: the error names the command that builds the engine.
		if code == 0 || !strings.Contains(errOut, "go generate ./internal/servecmd") {
			t.Errorf("--export without the engine: exit %d, %s", code, errOut)
		}
		return
	}
	if code != 0 || !strings.Contains(out, "index.html") {
		t.Errorf("--export: exit %d, %s %s", code, out, errOut)
	}
}
