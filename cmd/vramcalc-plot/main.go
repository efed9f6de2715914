// Command vramcalc-plot is `vramcalc plot`: vramcalc runs it, so that its
// libraries cost the other commands nothing. See `vramcalc plot --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/plotcmd"
)

func main() { os.Exit(cmdutil.Main(plotcmd.Root)) }
