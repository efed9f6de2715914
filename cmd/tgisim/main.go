package main

import (
	"os"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

func main() { os.Exit(simkit.Main(run)) }
