package servecmd

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
)

// TestHubReadOnce: the page's dozen concurrent estimates of one Hub model
// read the Hub once, and the answers are still byte for byte the CLI's
// (which reads it itself); asked again, the server reads nothing.
func TestHubReadOnce(t *testing.T) {
	hub := cmdtest.FakeHub(t)
	vars := map[string]string{"HF_HOME": t.TempDir(), "HF_ENDPOINT": hub.URL}
	var reads atomic.Int32
	e := cmdutil.Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Hub: func(ctx context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
			reads.Add(1)
			return hubcmd.Fetch(ctx, r)
		}}
	h, err := NewHandler(Options{}, e)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	want := cliOut(t, vars, "estimate", "vramcalc-test/qwen-copy", "--gpu", "l4", "--engine", "vllm", "--max-model-len", "4096", "-o", "json")
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if code, _, body := get(t, srv, "/api/estimate?model=vramcalc-test/qwen-copy&gpu=l4&engine=vllm&max-model-len=4096"); code != 200 || body != want {
				t.Errorf("HTTP %d, the answer differs from the CLI's:\n%.300s", code, body)
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Errorf("12 concurrent estimates of one model read the Hub %d times, want 1", n)
	}
	get(t, srv, "/api/plan?model=vramcalc-test/qwen-copy&gpu=l4")
	if n := reads.Load(); n != 1 {
		t.Errorf("asked again, the server read the Hub (%d reads in all)", n)
	}
}

// TestHubMemoForgets: a model is read again after hubTTL (10 minutes), a
// failure is never remembered, and the 65th model pushes out the oldest.
func TestHubMemoForgets(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var reads atomic.Int32
	fail := errors.New("gated")
	m := newHubMemo(func(_ context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
		reads.Add(1)
		if r.Repo == "acme/gated" {
			return hfmeta.Meta{}, fail
		}
		return hfmeta.Meta{}, nil
	})
	m.now = func() time.Time { return now }
	ctx := context.Background()
	read := func(repo string) error { _, err := m.Fetch(ctx, cmdutil.HubRequest{Repo: repo}); return err }
	for _, step := range []struct {
		repo    string
		advance time.Duration
		reads   int32
	}{
		{"acme/a", 0, 1}, // first read
		{"acme/a", 9*time.Minute + 59*time.Second, 1}, // remembered
		{"acme/a", time.Second, 2},                    // 10 minutes: read again
		{"acme/gated", 0, 3},                          // a failure…
		{"acme/gated", 0, 4},                          // …is read again
	} {
		now = now.Add(step.advance)
		err := read(step.repo)
		if got := reads.Load(); got != step.reads || (step.repo == "acme/gated") != errors.Is(err, fail) {
			t.Fatalf("%s after %v: %d reads (%v), want %d", step.repo, step.advance, got, err, step.reads)
		}
	}
	for i := range hubMemoSize {
		now = now.Add(time.Second)
		_ = read("acme/m" + string(rune('A'+i/26)) + string(rune('a'+i%26)))
	}
	if _, ok := m.lookup("\x00acme/a\x00"); ok || len(m.got) != hubMemoSize {
		t.Errorf("after %d more models: acme/a still remembered %v, %d remembered", hubMemoSize, ok, len(m.got))
	}
}
