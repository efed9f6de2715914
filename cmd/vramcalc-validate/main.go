// Command vramcalc-validate is `vramcalc validate`: vramcalc runs it, so that its
// libraries cost the other commands nothing. See `vramcalc validate --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
	"github.com/vramcalc/vramcalc/internal/validatecmd"
)

// It links net/http for Docker anyway, so it reads the Hub itself rather
// than through vramcalc-hub.
func main() { os.Exit(cmdutil.Main(validatecmd.Root, hubcmd.InProcess)) }
