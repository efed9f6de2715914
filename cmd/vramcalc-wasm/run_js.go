//go:build js && wasm

package main

import (
	"io"
	"syscall/js"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/servecmd"
)

// run registers vramcalcAPI and keeps the program alive for the page.
func run() int {
	env := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: getenv}
	h, err := servecmd.NewHandler(servecmd.Options{Offline: true, Static: true}, env)
	if err != nil {
		js.Global().Get("console").Call("error", "vramcalc: "+err.Error())
		return cmdutil.ExitError
	}
	js.Global().Set("vramcalcAPI", js.FuncOf(func(_ js.Value, args []js.Value) any {
		target := ""
		if len(args) > 0 {
			target = args[0].String()
		}
		// The answer runs on its own goroutine: a js.FuncOf callback that
		// blocks would block the page's event loop with it.
		return js.Global().Get("Promise").New(js.FuncOf(func(_ js.Value, p []js.Value) any {
			go func() {
				code, body := servecmd.Answer(h, target)
				p[0].Invoke(map[string]any{"status": code, "body": string(body)})
			}()
			return nil
		}))
	}))
	if ready := js.Global().Get("vramcalcReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// getenv is the page's environment: offline, no token, no cache.
func getenv(k string) string {
	if k == "HF_HUB_OFFLINE" {
		return "1"
	}
	return ""
}
