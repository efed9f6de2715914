//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

func run() int {
	fmt.Fprintln(os.Stderr, "vramcalc-wasm runs in a browser: build it with GOOS=js GOARCH=wasm (go generate ./internal/servecmd), then vramcalc serve --export DIR")
	return cmdutil.ExitUsage
}
