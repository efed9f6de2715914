// Command genwasm builds the page's engine for the browser
// (cmd/vramcalc-wasm, GOOS=js GOARCH=wasm) into -out as vramcalc.wasm.gz,
// with the Go release's wasm_exec.js beside it: the files `vramcalc serve
// --export` writes. go generate ./internal/servecmd runs it before
// vramcalc-serve is built, so that the program embeds them.
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("out", "wasm", "write vramcalc.wasm.gz and wasm_exec.js into `DIR`")
	flag.Parse()
	if err := build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genwasm:", err)
		os.Exit(1)
	}
}

// build compiles the engine and writes the two files into dir.
func build(dir string) error {
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	glue, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return fmt.Errorf("the Go release's wasm_exec.js: %w", err)
	}
	tmp, err := os.MkdirTemp("", "genwasm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "vramcalc.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/vramcalc/vramcalc/cmd/vramcalc-wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build cmd/vramcalc-wasm for js/wasm: %w", err)
	}
	wasm, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeGzip(filepath.Join(dir, "vramcalc.wasm.gz"), wasm); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "wasm_exec.js"), glue, 0o644)
}

// writeGzip writes b compressed to path.
func writeGzip(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		f.Close()
		return err
	}
	_, werr := zw.Write(b)
	if err := zw.Close(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
