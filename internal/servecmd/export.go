package servecmd

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// ErrNoEngine is an --export from a program built without the page's
// engine (go generate was not run before it was built).
var ErrNoEngine = errors.New("this vramcalc-serve was built without the page's engine for the browser")

// The static page's files.
const (
	exportPage   = "index.html"
	exportGlue   = "wasm_exec.js"
	exportEngine = "vramcalc-wasm.js"
)

// staticCSP is the exported page's policy: its own scripts and the
// WebAssembly they compile, and no connection anywhere.
const staticCSP = "default-src 'none'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'none'; form-action 'none'; base-uri 'none'"

// headMark is where the exported page's policy and scripts go.
var headMark = []byte("<!--static-head-->")

// Export writes the page into dir so that it runs with no server: the
// page, the Go release's wasm_exec.js, and vramcalc-wasm.js, which holds
// the page's engine (engine's vramcalc.wasm.gz, from Built) that answers
// the API in the browser from the embedded catalogs. It returns the size
// of what it wrote. Files of dir that are not these three are left alone.
func Export(dir string, engine fs.FS) (int64, error) {
	gz, err1 := fs.ReadFile(engine, "vramcalc.wasm.gz")
	glue, err2 := fs.ReadFile(engine, exportGlue)
	if err := errors.Join(err1, err2); err != nil {
		return 0, cmdutil.WithHint(fmt.Errorf("serve --export: %w (%w)", ErrNoEngine, err),
			"build it from a checkout: go generate ./internal/servecmd && go build -o DIR ./cmd/...")
	}
	if !bytes.Contains(pageHTML, headMark) {
		return 0, errors.New("serve --export: the page has no " + string(headMark)) // a bug: TestExport
	}
	head := fmt.Sprintf(`<meta http-equiv="Content-Security-Policy" content="%s">
<script src="%s"></script>
<script src="%s"></script>`, staticCSP, exportGlue, exportEngine)
	files := []struct {
		name string
		body []byte
	}{
		{exportPage, bytes.Replace(pageHTML, headMark, []byte(head), 1)},
		{exportGlue, glue},
		{exportEngine, []byte(`"use strict";
// The page's engine (cmd/vramcalc-wasm, GOOS=js GOARCH=wasm), gzip, base64:
// a script rather than a fetched file, so that the page runs from file://.
globalThis.vramcalcWasm = "` + base64.StdEncoding.EncodeToString(gz) + "\";\n")},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, cmdutil.WithHint(fmt.Errorf("serve --export: %w", err), "give a directory you can write")
	}
	var n int64
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.body); err != nil {
			return n, fmt.Errorf("serve --export: %w", err)
		}
		n += int64(len(f.body))
	}
	return n, nil
}

// writeFile replaces path with body whole: a reader (or an interrupted
// export) never sees half a file.
func writeFile(path string, body []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, werr := f.Write(body)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
