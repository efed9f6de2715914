// Command vramcalc estimates the GPU memory of serving a Hugging Face model
// with TGI, vLLM or SGLang and the launch limits that fit. See `vramcalc --help`.
package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

func main() { os.Exit(cmdutil.MainComputing(newApp)) }
