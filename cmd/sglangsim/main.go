package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if code == exitKillTree {
		// kill_process_tree(os.getpid()): SIGKILL to itself, then
		// sys.exit(0), which only runs when the kill is ignored, as it is
		// for PID 1 in a container (docs/ENGINE-SURFACE.md §B3).
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		os.Exit(0)
	}
	os.Exit(code)
}
