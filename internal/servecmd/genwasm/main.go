// Command genwasm builds the page's engine for the browser
// (cmd/vramcalc-wasm, GOOS=js GOARCH=wasm) into -out as vramcalc.wasm.gz,
// with the Go release's wasm_exec.js beside it: the files `vramcalc serve
// --export` writes. go generate ./internal/servecmd runs it before
// vramcalc-serve is built, so that the program embeds them.
package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// engineImport is the page's engine.
const engineImport = "github.com/vramcalc/vramcalc/cmd/vramcalc-wasm"

func main() {
	out := flag.String("out", "wasm", "write vramcalc.wasm.gz, wasm_exec.js and SOURCES into `DIR`")
	only := flag.Bool("fingerprint", false, "only print the fingerprint of the engine's sources")
	flag.Parse()
	var err error
	if *only {
		var fp string
		if fp, err = fingerprint(); err == nil {
			fmt.Println(fp)
		}
	} else {
		err = build(*out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genwasm:", err)
		os.Exit(1)
	}
}

// fingerprint is the SHA-256 of every file the engine is built from
// outside the standard library (each package's Go and embedded files, named
// by import path): SOURCES holds it, so that a test can tell an engine
// built from older sources (TestEmbeddedEngineCurrent).
func fingerprint() (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{"\t"}}{{join .GoFiles " "}} {{join .EmbedFiles " "}}{{end}}`, engineImport)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list the engine's packages: %w", err)
	}
	h := sha256.New()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		part := strings.SplitN(line, "\t", 3)
		if len(part) != 3 {
			return "", fmt.Errorf("go list: %q", line)
		}
		pkg, dir := part[0], part[1]
		for _, f := range strings.Fields(part[2]) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s/%s %d\n", pkg, f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, engineImport)
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
	fp, err := fingerprint()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "SOURCES"), []byte(fp+"\n"), 0o644); err != nil {
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
