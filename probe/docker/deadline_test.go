package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/probe"
)

// silentEngine is a unix socket (in t.TempDir) that accepts connections,
// reads what comes and never answers: an engine that hangs.
func silentEngine(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "unix://" + sock
}

// TestDockerDeadlines: against an engine that accepts and never answers,
// every Runtime call returns, within its deadline (200 ms here; Stop's is
// the deadline plus its stop timeout of 1 s), an error that matches
// probe.ErrEngineTimeout and probe.ErrNoEngine and says which engine did
// not answer in how long, instead of hanging. A call whose own context
// ends first is a cancellation, not an engine timeout.
func TestDockerDeadlines(t *testing.T) {
	host := silentEngine(t)
	t.Setenv("DOCKER_API_VERSION", "") // negotiate: the Ping hangs too
	d, err := New(WithHost(host), WithCallTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	calls := map[string]func() error{
		"ping":   func() error { _, err := d.Ping(ctx); return err },
		"image":  func() error { _, err := d.ImageExists(ctx, "x:1"); return err },
		"pull":   func() error { return d.Pull(ctx, "x:1", nil) },
		"start":  func() error { _, err := d.Start(ctx, testSpec()); return err },
		"logs":   func() error { _, err := d.Logs(ctx, "c1", true); return err },
		"wait":   func() error { _, err := d.Wait(ctx, "c1"); return err },
		"stop":   func() error { return d.Stop(ctx, "c1", time.Second) },
		"remove": func() error { return d.Remove(ctx, "c1") },
		"list":   func() error { _, err := d.List(ctx, map[string]string{probe.RunLabel: "r1"}); return err },
	}
	var wg sync.WaitGroup
	for op, call := range calls {
		wg.Go(func() {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				if !errors.Is(err, probe.ErrEngineTimeout) || !errors.Is(err, probe.ErrNoEngine) || !strings.Contains(err.Error(), "the engine at "+host+" did not answer within ") {
					t.Errorf("%s: %v, want probe.ErrEngineTimeout naming the engine", op, err)
				}
				if errors.Is(err, context.Canceled) || errors.Is(err, probe.ErrNotFound) || strings.Contains(err.Error(), testSecret) {
					t.Errorf("%s: %v also matches a cancellation or a not-found, or holds the secret", op, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s: no answer after 30 s: the call hangs", op)
			}
		})
	}
	wg.Wait()

	// The caller's own deadline is not the engine's fault.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := d.ImageExists(short, "x:1"); errors.Is(err, probe.ErrEngineTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ImageExists under a 50 ms context: %v, want context.DeadlineExceeded only", err)
	}
}
