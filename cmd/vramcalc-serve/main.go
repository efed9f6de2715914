// Command vramcalc-serve is `vramcalc serve`: the calculator as a page and
// a JSON API. vramcalc runs it, so that its HTTP server costs the other
// commands nothing. See `vramcalc serve --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
	"github.com/vramcalc/vramcalc/internal/servecmd"
)

// It links net/http for its server anyway, so it reads the Hub itself
// rather than through vramcalc-hub.
func main() { os.Exit(cmdutil.Main(servecmd.Root, hubcmd.InProcess)) }
