package servecmd

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// TestExport writes the three files of the static page: the page with its
// policy and the two scripts in its head, wasm_exec.js as given, and the
// engine's gzip as base64 that decodes to the same bytes; other files of
// the directory are left alone.
func TestExport(t *testing.T) {
	gz := []byte("\x1f\x8b not really gzip")
	engine := fstest.MapFS{"vramcalc.wasm.gz": {Data: gz}, "wasm_exec.js": {Data: []byte("// glue\n")}}
	dir := filepath.Join(t.TempDir(), "site")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Export(dir, engine)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	page, glue, js := read("index.html"), read("wasm_exec.js"), read("vramcalc-wasm.js")
	if want := len(page) + len(glue) + len(js); n != int64(want) {
		t.Errorf("Export says %d bytes, wrote %d", n, want)
	}
	if strings.Contains(page, "<!--static-head-->") || !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval';`) ||
		!strings.Contains(page, `<script src="wasm_exec.js"></script>`) || !strings.Contains(page, `<script src="vramcalc-wasm.js"></script>`) ||
		!strings.Contains(page, "connect-src 'none'") {
		t.Errorf("exported page head:\n%s", page[:min(len(page), 600)])
	}
	if glue != "// glue\n" || read("notes.txt") != "mine" {
		t.Errorf("wasm_exec.js %q, notes.txt %q", glue, read("notes.txt"))
	}
	m := regexp.MustCompile(`globalThis\.vramcalcWasm = "([A-Za-z0-9+/=]+)";`).FindStringSubmatch(js)
	if m == nil {
		t.Fatalf("vramcalc-wasm.js:\n%s", js)
	}
	if b, err := base64.StdEncoding.DecodeString(m[1]); err != nil || string(b) != string(gz) {
		t.Errorf("the engine decodes to %q (%v), want %q", b, err, gz)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestExportWithoutEngine: a program built without go generate says so,
// with the command that builds the engine, and writes nothing.
func TestExportWithoutEngine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	_, err := Export(dir, fstest.MapFS{"README.md": {Data: []byte("x")}})
	if !errors.Is(err, ErrNoEngine) || !strings.Contains(cmdutil.Hint(err), "go generate ./internal/servecmd") {
		t.Fatalf("err %v, hint %q", err, cmdutil.Hint(err))
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Export without an engine made %s", dir)
	}
}

// TestAnswer: the in-memory request the page's engine makes answers what
// the server answers over HTTP, status and bytes; a target that is not a
// path of this server is a 404, never a request elsewhere.
func TestAnswer(t *testing.T) {
	vars := offlineVars(t)
	srv := start(t, Options{Offline: true, Static: true}, vars)
	h, err := NewHandler(Options{Offline: true, Static: true}, cmdutil.Env{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/api/gpus", "/api/estimate?model=meta-llama/Llama-3.1-8B-Instruct&gpu=l4", "/api/estimate?model=./mine&gpu=l4",
		"/api/estimate?model=acme/unknown&gpu=l4", "/api/plan?model=Qwen/Qwen3-8B&gpu=l4&price=l4=0.8"} {
		code, body := Answer(h, target)
		wantCode, _, want := get(t, srv, target)
		if code != wantCode || string(body) != want {
			t.Errorf("%s: Answer %d %s\nserver %d %s", target, code, body, wantCode, want)
		}
		if code == 400 && !strings.Contains(string(body), "embedded catalog only") && strings.Contains(target, "model=") {
			t.Errorf("%s: the static page's refusal does not say it reads the catalog only: %s", target, body)
		}
	}
	for _, target := range []string{"http://example.com/api/gpus", "//example.com/api/gpus", "not a path"} {
		if code, _ := Answer(h, target); code != 404 {
			t.Errorf("%s: %d, want 404", target, code)
		}
	}
}

// TestEmbeddedEngineCurrent: an engine that go generate built into wasm/
// (and vramcalc-serve embeds) was built from the sources as they are now:
// an older one would answer in the exported page what this server no
// longer does. Without a generated engine there is nothing to compare.
func TestEmbeddedEngineCurrent(t *testing.T) {
	if _, err := fs.Stat(Built(), "vramcalc.wasm.gz"); err != nil {
		t.Skip("no engine in wasm/ (go generate ./internal/servecmd not run): nothing embedded to be stale")
	}
	built, err := fs.ReadFile(Built(), "SOURCES")
	if err != nil {
		t.Fatalf("wasm/ holds an engine without SOURCES: run go generate ./internal/servecmd again (%v)", err)
	}
	out, err := exec.Command("go", "run", "./genwasm", "-fingerprint").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != strings.TrimSpace(string(built)) {
		t.Errorf("the engine in wasm/ was built from other sources (%.12s, now %.12s): run go generate ./internal/servecmd", built, out)
	}
}
