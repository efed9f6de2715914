package servecmd

import (
	_ "embed"
	"net/http"
)

// pageHTML is the whole page: its style and script are inline, and it
// fetches nothing but this server's /api (no CDN, no web fonts), so it
// works with the network unplugged.
//
//go:embed page.html
var pageHTML []byte

// pageCSP lets the page reach this server only, whatever it is fed.
const pageCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// page is GET /.
func page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	_, _ = w.Write(pageHTML)
}
