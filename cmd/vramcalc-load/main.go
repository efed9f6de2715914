// Command vramcalc-load is `vramcalc load`: vramcalc runs it, so that its
// HTTP client and NVML cost the other commands nothing. See
// `vramcalc load --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
	"github.com/vramcalc/vramcalc/internal/loadcmd"
)

// It links net/http anyway, so it reads the Hub itself rather than
// through vramcalc-hub.
func main() { os.Exit(cmdutil.Main(loadcmd.Root, hubcmd.InProcess)) }
