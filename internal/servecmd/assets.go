//go:build !js

package servecmd

import (
	"embed"
	"io/fs"
)

//go:generate go run ./genwasm -out wasm

// built holds the page's engine for the browser when go generate has
// built it (wasm/README.md). The wasm program itself is built without it
// (this file's build constraint), so that it never embeds an older copy of
// itself.
//
//go:embed wasm
var built embed.FS

// Built is the page's engine for --export: vramcalc.wasm.gz and
// wasm_exec.js, when this program was built after go generate.
func Built() fs.FS {
	sub, err := fs.Sub(built, "wasm")
	if err != nil {
		return embed.FS{} // unreachable: the directory is embedded
	}
	return sub
}
