// Command vramcalc-calibrate is `vramcalc calibrate`: vramcalc runs it, so that its
// libraries cost the other commands nothing. See `vramcalc calibrate --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/calibratecmd"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

func main() { os.Exit(cmdutil.Main(calibratecmd.Root)) }
