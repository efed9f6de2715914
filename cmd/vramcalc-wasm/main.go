// Command vramcalc-wasm is the page's engine built for the browser
// (GOOS=js GOARCH=wasm): the API of `vramcalc serve` answered in the page
// itself, from the embedded model and GPU catalogs, with no server. It
// defines vramcalcAPI(target) in the page, a promise of {status, body}
// for a target such as "/api/estimate?model=…&gpu=L4", byte for byte the
// server's answer. `vramcalc serve --export DIR` writes a page that loads
// it; go generate ./internal/servecmd builds it.
package main

import "os"

func main() { os.Exit(run()) }
