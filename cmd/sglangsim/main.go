package main

import (
	"os"
	"syscall"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

func main() {
	code := simkit.Main(run)
	if code == exitKillTree {
		// kill_process_tree(os.getpid()): SIGKILL to itself, then
		// sys.exit(0), which only runs when the kill is ignored, as it is
		// for PID 1 in a container (docs/ENGINE-SURFACE.md §B3).
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		os.Exit(0)
	}
	os.Exit(code)
}
