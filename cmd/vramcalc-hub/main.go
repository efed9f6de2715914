// Command vramcalc-hub reads a model's config and safetensors headers from
// the Hugging Face Hub and prints them as JSON: vramcalc runs it, so that
// its HTTP and TLS libraries cost the other commands nothing. See
// `vramcalc-hub --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
)

func main() { os.Exit(cmdutil.Main(hubcmd.Root)) }
