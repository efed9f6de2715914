package simkit

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is a simulator's main: run with the process's arguments,
// environment and output, its context cancelled by SIGTERM or SIGINT (as
// docker stop sends); it returns run's exit code.
func Main(run func(ctx context.Context, argv []string, getenv func(string) string, stdout, stderr io.Writer) int) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
}
