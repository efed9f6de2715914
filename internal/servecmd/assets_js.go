//go:build js

package servecmd

import (
	"embed"
	"io/fs"
)

// Built is empty in the browser: the page's engine does not export.
func Built() fs.FS { return embed.FS{} }
