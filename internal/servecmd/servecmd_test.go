package servecmd

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/internal/calccmd"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
)

// cliRoot is vramcalc's app as cmd/vramcalc wires these commands
// (cmdutil.Deferred), to compare the API with what the CLI prints.
func cliRoot(e cmdutil.Env) *cli.Command {
	return cmdutil.Prepare(&cli.Command{Name: "vramcalc", Commands: []*cli.Command{
		cmdutil.Deferred("estimate", "", func() *cli.Command { return calccmd.Estimate(e) }),
		cmdutil.Deferred("plan", "", func() *cli.Command { return calccmd.Plan(e) }),
		cmdutil.Deferred("models", "", func() *cli.Command { return calccmd.Models(e) }),
		cmdutil.Deferred("gpus", "", func() *cli.Command { return calccmd.GPUs(e) }),
	}}, e)
}

// offlineVars is the offline environment both the CLI and the server get.
func offlineVars(t *testing.T) map[string]string {
	return map[string]string{"HF_HUB_OFFLINE": "1", "HF_HOME": t.TempDir()}
}

// start serves NewHandler(o) on a loopback port of its own.
func start(t *testing.T, o Options, vars map[string]string) *httptest.Server {
	t.Helper()
	e := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
	hubcmd.InProcess(&e)
	h, err := NewHandler(o, e)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get returns the status, headers and body of GET srv/path.
func get(t *testing.T, srv *httptest.Server, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// cli runs the CLI in-process with vars and returns its stdout.
func cliOut(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	out, errOut, code := cmdtest.RunEnv(t, cliRoot, vars, args...)
	if code != 0 {
		t.Fatalf("vramcalc %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestAPIEqualsCLI: each API answer is byte for byte the CLI's -o json
// for the same flags (the query's keys are the flags without dashes).
func TestAPIEqualsCLI(t *testing.T) {
	vars := offlineVars(t)
	srv := start(t, Options{}, vars)
	for _, c := range []struct {
		name, query string
		args        []string
		engine      string // the answer's engine.name
	}{
		{"tgi", "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&max-total-tokens=8192&max-input-tokens=8000",
			[]string{"estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--max-total-tokens", "8192", "--max-input-tokens", "8000", "-o", "json"}, "tgi"},
		{"vllm", "/api/estimate?model=Qwen/Qwen3-32B&gpu=H100&gpus=2&engine=vllm&max-model-len=16384&gpu-memory-utilization=0.95",
			[]string{"estimate", "Qwen/Qwen3-32B", "--gpu", "H100", "--gpus", "2", "--engine", "vllm", "--max-model-len", "16384", "--gpu-memory-utilization", "0.95", "-o", "json"}, "vllm"},
		{"sglang", "/api/estimate?model=Qwen/Qwen3-8B&gpu=L4&engine=sglang&context-length=8192&kv-cache-dtype=fp8",
			[]string{"estimate", "Qwen/Qwen3-8B", "--gpu", "L4", "--engine", "sglang", "--context-length", "8192", "--kv-cache-dtype", "fp8", "-o", "json"}, "sglang"},
		{"vllm bool", "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&engine=vllm&enforce-eager=true&max-num-seqs=64&max-model-len=",
			[]string{"estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--engine", "vllm", "--enforce-eager", "--max-num-seqs", "64", "-o", "json"}, "vllm"},
		{"plan repeated", "/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&gpu=H100&context=8192&concurrency=4",
			[]string{"plan", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--gpu", "H100", "--context", "8192", "--concurrency", "4", "-o", "json"}, ""},
		{"plan comma", "/api/plan?model=Qwen/Qwen3-32B&gpu=H100,L40S&context=16384&concurrency=8&engine=vllm",
			[]string{"plan", "Qwen/Qwen3-32B", "--gpu", "H100,L40S", "--context", "16384", "--concurrency", "8", "--engine", "vllm", "-o", "json"}, ""},
		{"gpus", "/api/gpus", []string{"gpus", "-o", "json"}, ""},
		{"models", "/api/models", []string{"models", "-o", "json"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := get(t, srv, c.query)
			if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
				t.Fatalf("HTTP %d %s: %s", code, h.Get("Content-Type"), body)
			}
			if want := cliOut(t, vars, c.args...); body != want {
				t.Errorf("API answer differs from vramcalc %s:\n%.400s\nwant\n%.400s", strings.Join(c.args, " "), body, want)
			}
			if c.engine == "" {
				return
			}
			var r calccmd.Report
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Engine.Name != c.engine || r.PerGPU.WeightsBytes == 0 {
				t.Errorf("engine %q, weights %d B (%v); want %s and the model's weights", r.Engine.Name, r.PerGPU.WeightsBytes, err, c.engine)
			}
		})
	}
}

// TestModelsSearch: q= keeps the catalog entries whose id contains it, in
// the CLI's order and format.
func TestModelsSearch(t *testing.T) {
	vars := offlineVars(t)
	srv := start(t, Options{}, vars)
	var all, found []struct{ ID string }
	if err := json.Unmarshal([]byte(cliOut(t, vars, "models", "-o", "json")), &all); err != nil {
		t.Fatal(err)
	}
	code, _, body := get(t, srv, "/api/models?q=LLAMA-3.1")
	if err := json.Unmarshal([]byte(body), &found); code != http.StatusOK || err != nil {
		t.Fatalf("HTTP %d %v: %s", code, err, body)
	}
	want := 0
	for _, m := range all {
		if strings.Contains(strings.ToLower(m.ID), "llama-3.1") {
			want++
		}
	}
	if len(found) != want || want == 0 || want == len(all) {
		t.Errorf("q=LLAMA-3.1 found %d of %d models, want the %d whose id contains llama-3.1", len(found), len(all), want)
	}
	for _, m := range found {
		if !strings.Contains(strings.ToLower(m.ID), "llama-3.1") {
			t.Errorf("found %s", m.ID)
		}
	}
}

// TestAPIErrors: bad input is 400 with the CLI's error and hint; other
// methods are 405; a long query is refused; the file flags are the
// server's.
func TestAPIErrors(t *testing.T) {
	srv := start(t, Options{}, offlineVars(t))
	for _, c := range []struct {
		query           string
		code            int
		inError, inHint string
	}{
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=H1000", 400, "H1000", "vramcalc gpus"},
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&max-totl-tokens=5", 400, "max-totl-tokens", "did you mean --max-total-tokens?"},
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&engine=vllm&quantize=fp8", 400, "--quantize is a TGI flag", "with --engine vllm use --quantization"},
		{"/api/estimate?model=Llama-3.1-8B-Instruct&gpu=L4", 400, "Llama-3.1-8B-Instruct", "did you mean meta-llama/Llama-3.1-8B-Instruct?"},
		{"/api/estimate?gpu=L4", 400, "give one model", "model=ORG/NAME"},
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&output=csv", 400, "output is not taken", "-o json"},
		{"/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&prices=/etc/passwd", 400, "prices is not taken", "--prices"},
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4&corrections=c.json", 400, "corrections is not taken", "vramcalc serve --corrections"},
		{"/api/estimate?model=x&-gpu=L4", 400, "is not a flag name", "--help"},
		{"/api/estimate?model=" + strings.Repeat("a", maxQueryBytes), 414, "at most 4096", "only the flags"},
	} {
		code, h, body := get(t, srv, c.query)
		var e apiError
		if err := json.Unmarshal([]byte(body), &e); err != nil || code != c.code || h.Get("Content-Type") != "application/json" ||
			!strings.Contains(e.Error, c.inError) || !strings.Contains(e.Hint, c.inHint) {
			t.Errorf("%.80s: HTTP %d %v %s; want %d with %q in error and %q in hint", c.query, code, err, body, c.code, c.inError, c.inHint)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST: HTTP %d, Allow %q; want 405, GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestPanicIsJSON500: a handler's panic answers 500 JSON without its
// message or a stack trace.
func TestPanicIsJSON500(t *testing.T) {
	rec := httptest.NewRecorder()
	guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret internals") })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/estimate", nil))
	var e apiError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 500 || e.Error != "internal error" ||
		strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("HTTP %d %v: %s", rec.Code, err, rec.Body.String())
	}
}

// TestLocalModels: a model directory is read only under --models-dir
// (absolute or ./NAME), never outside it, through a symbolic link, or
// from the server's working directory.
func TestLocalModels(t *testing.T) {
	src := filepath.Join("..", "..", "hfmeta", "testdata", "hub", "Qwen", "Qwen3-0.6B", "resolve", "main")
	models, outside := t.TempDir(), t.TempDir()
	for _, dir := range []string{filepath.Join(models, "qwen"), outside} {
		os.MkdirAll(dir, 0o755)
		for _, f := range []string{"config.json", "model.safetensors"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Symlink(outside, filepath.Join(models, "escape")); err != nil {
		t.Fatal(err)
	}
	vars := offlineVars(t)
	real, _ := filepath.EvalSymlinks(filepath.Join(models, "qwen"))
	want := cliOut(t, vars, "estimate", real, "--gpu", "T4", "-o", "json")
	srv := start(t, Options{ModelsDir: models}, vars)
	for _, ref := range []string{real, "./qwen"} {
		if code, _, body := get(t, srv, "/api/estimate?gpu=T4&model="+url.QueryEscape(ref)); code != 200 || body != want {
			t.Errorf("model=%s: HTTP %d, answer differs from vramcalc estimate %s:\n%.300s", ref, code, real, body)
		}
	}
	bare := start(t, Options{}, vars)
	for _, c := range []struct {
		srv *httptest.Server
		ref string
	}{{srv, outside}, {srv, "./escape"}, {srv, "../" + filepath.Base(outside)}, {bare, real}, {srv, "page.html"}} {
		code, _, body := get(t, c.srv, "/api/estimate?gpu=T4&model="+url.QueryEscape(c.ref))
		if code != 400 || !strings.Contains(body, "local model paths are served only under --models-dir") || !strings.Contains(body, `"hint": "`) {
			t.Errorf("model=%s: HTTP %d %s; want 400 refusing a path outside --models-dir", c.ref, code, body)
		}
	}
}

// TestTokenStaysOnServer: with a Hugging Face token in the server's
// environment, a Hub that echoes the token it gets (FakeHub's gated and
// broken repos) and a model read with it, no answer's body or header
// holds the token.
func TestTokenStaysOnServer(t *testing.T) {
	hub := cmdtest.FakeHub(t)
	for _, token := range []string{cmdtest.HubToken, "hf_vramcalcWrongToken0123456789"} {
		vars := map[string]string{"HF_HOME": t.TempDir(), "HF_ENDPOINT": hub.URL, "HF_TOKEN": token}
		srv := start(t, Options{}, vars)
		codes := map[int]int{}
		for _, model := range []string{"vramcalc-test/gated-model", "vramcalc-test/broken", "vramcalc-test/qwen-copy", "meta-llama/Llama-3.1-8B-Instruct"} {
			for _, path := range []string{"/api/estimate?gpu=L4&model=", "/api/plan?gpu=L4&model="} {
				// --timeout cuts the broken repo's retries short.
				code, h, body := get(t, srv, path+model+"&timeout=1s")
				codes[code]++
				for k, vs := range h {
					if strings.Contains(k+strings.Join(vs, ","), token) {
						t.Errorf("%s%s: header %s holds the token", path, model, k)
					}
				}
				if strings.Contains(body, token) {
					t.Errorf("%s%s: HTTP %d body holds the token: %.300s", path, model, code, body)
				}
			}
		}
		// qwen-copy and the catalog model answer; the broken repo and, with
		// the wrong token, the gated one fail: 2·2 + 2·(1 or 2) answers.
		if codes[200] < 4 || codes[200] == 8 {
			t.Errorf("token %.6s…: HTTP codes %v; want ≥ 4 answers and some refusals", token, codes)
		}
	}
}

// TestPage: GET / is the embedded page, which names no address outside
// the server and may fetch nothing outside it.
func TestPage(t *testing.T) {
	srv := start(t, Options{}, offlineVars(t))
	code, h, body := get(t, srv, "/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || body != string(pageHTML) {
		t.Fatalf("HTTP %d %s, %d bytes; want the embedded page", code, h.Get("Content-Type"), len(body))
	}
	for _, s := range []string{"http://", "https://", "//cdn", "@import", "<link", "src=\""} {
		if strings.Contains(strings.ToLower(body), s) {
			t.Errorf("the page holds %q: it must fetch nothing outside the server", s)
		}
	}
	for _, s := range []string{`"/api/" + view()`, "/api/models", "/api/gpus", "download JSON", "history.replaceState", "<svg"} {
		if !strings.Contains(body, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if code, _, _ := get(t, srv, "/nosuch"); code != 404 {
		t.Errorf("/nosuch: HTTP %d, want 404", code)
	}
}

// TestCheckAddr: loopback by default; anything else only with
// --allow-remote.
func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true},
		{"127.0.0.2:80", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"0.0.0.0:8080", false, false},
		{":8080", false, false},
		{"192.168.1.5:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{"127.0.0.1", true, false}, // no port
	} {
		if err := checkAddr(c.addr, c.remote); (err == nil) != c.ok || (err != nil && cmdutil.Hint(err) == "") {
			t.Errorf("checkAddr(%q, %v) = %v (hint %q); want ok %v", c.addr, c.remote, err, cmdutil.Hint(err), c.ok)
		}
	}
}

// TestServerCorrections: --corrections, loaded at start, apply to the
// estimates of their engine (as the CLI's --corrections) and to no other.
func TestServerCorrections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corr.json")
	os.WriteFile(path, []byte(`{"version":1,"engine":"tgi","engine_version":"3.3.7","gpu":"NVIDIA L40S","activation_factor":1,"overhead_bytes":1073741824,"wiggle":0,"margin_pct":0,"safe_side":"below","fit":{"n":1}}`), 0o644)
	vars := offlineVars(t)
	srv := start(t, Options{Corrections: path}, vars)
	base := []string{"estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L40S", "-o", "json"}
	for _, c := range []struct {
		query string
		args  []string
	}{
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L40S", append(base, "--corrections", path)},
		{"/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L40S&engine=vllm", append(base, "--engine", "vllm")},
	} {
		if code, _, body := get(t, srv, c.query); code != 200 || body != cliOut(t, vars, c.args...) {
			t.Errorf("%s: HTTP %d, answer differs from vramcalc %s", c.query, code, strings.Join(c.args, " "))
		}
	}
	// The 1 GiB of overhead the file adds costs the KV budget 8,192 tokens
	// (1 GiB / 131,072 B per token), as TestPlanCorrections pins for plan.
	var with, without calccmd.Report
	_, _, b := get(t, srv, "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L40S")
	json.Unmarshal([]byte(b), &with)
	json.Unmarshal([]byte(cliOut(t, vars, base...)), &without)
	if d := without.Startup.MaxBatchTotalTokens - with.Startup.MaxBatchTotalTokens; d != 8192 {
		t.Errorf("budget drop %d, want 8,192", d)
	}
	if _, err := NewHandler(Options{Corrections: filepath.Join(t.TempDir(), "none.json")}, cmdutil.Env{Getenv: func(string) string { return "" }}); err == nil || cmdutil.Hint(err) == "" {
		t.Errorf("a missing --corrections file: %v; want an error at start with a hint", err)
	}
}

// TestOfflineServer: a server started --offline passes --offline to the
// commands that resolve models (estimate, plan) and not to those without
// the flag (models, gpus), which answer 200 with the catalog (106 models).
func TestOfflineServer(t *testing.T) {
	srv := start(t, Options{Offline: true}, offlineVars(t))
	for _, path := range []string{"/api/models", "/api/gpus", "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=L4",
		"/api/plan?model=meta-llama/Llama-3.1-8B-Instruct&context=8192&concurrency=4"} {
		if code, _, body := get(t, srv, path); code != 200 {
			t.Errorf("%s: HTTP %d: %.200s", path, code, body)
		}
	}
	_, _, body := get(t, srv, "/api/models")
	var models []map[string]any
	if err := json.Unmarshal([]byte(body), &models); err != nil || len(models) != 106 {
		t.Errorf("/api/models: %d models, %v", len(models), err)
	}
}

// TestPageLabels: the page names each engine's limits with the CLI's words
// (calccmd.LimitLabels), e.g. vLLM's --max-model-len and "GPU KV cache
// size (tokens)".
func TestPageLabels(t *testing.T) {
	for _, eng := range []string{"tgi", "vllm", "sglang"} {
		in, total, prefill, budget := calccmd.LimitLabels(eng)
		want := fmt.Sprintf("%s: {input: %q, total: %q, prefill: %q, budget: %q}", eng, in, total, prefill, budget)
		if !strings.Contains(string(pageHTML), want) {
			t.Errorf("page.html lacks %s", want)
		}
	}
}
