package probe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestLaunchInterrupted: a launch whose context is cancelled (Ctrl-C,
// SIGTERM) in any phase returns an error wrapping context.Canceled and no
// observation (not "failed: requests" for requests the interrupt cut), and
// its container is stopped and removed. The cancel comes from inside the
// fake engine as it receives the phase's first request, which then hangs
// until the client gives up.
func TestLaunchInterrupted(t *testing.T) {
	for _, tc := range []struct{ phase, request string }{
		{"loading", "GET /health"},
		{"budget", "GET /metrics"},
		{"prompt", "POST /tokenize"},
		{"requests", "POST /generate"},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rt := &fakeRuntime{edge: 20000, budget: 22460}
			rt.serveHook = func(r *http.Request) {
				if r.Method+" "+r.URL.Path == tc.request {
					// The server notices the client leave only once the
					// body is read.
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(body))
					cancel()
					<-r.Context().Done()
				}
			}
			cfg := &Config{Runtime: rt, Engine: TGI{}, Image: "img", Model: "m", RunID: "i1", HealthTimeout: 5 * time.Second,
				Requests: RequestPlan{InputTokens: 100, OutputTokens: 50, Concurrency: 4}}
			seq := 0
			o, err := cfg.Launcher(&seq)(ctx, Point{MaxInputTokens: 19999, MaxTotalTokens: 20000})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("launch interrupted at %s = %v (outcome %q, failure %q, requests %+v), want context.Canceled",
					tc.request, err, o.Outcome, o.Failure, o.Requests)
			}
			if o.Outcome != "" || o.Seq != 0 {
				t.Errorf("an interrupted launch returned an observation: %+v", o)
			}
			if rt.removed != 1 || len(rt.live) != 0 {
				t.Errorf("removed %d, live %d; want the one container removed", rt.removed, len(rt.live))
			}
		})
	}
}

// heldLogs is a fakeRuntime whose log streams stay open after the
// container exits, so that a failed launch waits the whole 2 s drain.
type heldLogs struct{ *fakeRuntime }

func (h heldLogs) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	rc, _ := h.fakeRuntime.Logs(ctx, id, follow)
	pr, pw := io.Pipe()
	go func() {
		io.Copy(pw, rc)
		<-ctx.Done()
		pw.Close()
	}()
	return pr, nil
}

// TestLaunchInterruptedWhileDraining: a container that exited (a warm-up
// OOM) is not recorded when the interrupt comes while its log drains (up
// to 2 s; the cancel comes 300 ms after loading began).
func TestLaunchInterruptedWhileDraining(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt := &fakeRuntime{edge: 20000, budget: 22460}
	cfg := &Config{Runtime: heldLogs{rt}, Engine: TGI{}, Image: "img", Model: "m", RunID: "i2", HealthTimeout: 5 * time.Second,
		Progress: func(ev Event) {
			if ev.Phase == "loading" {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
		}}
	seq := 0
	o, err := cfg.Launcher(&seq)(ctx, Point{MaxInputTokens: 20000, MaxTotalTokens: 20001})
	if !errors.Is(err, context.Canceled) || o.Outcome != "" {
		t.Errorf("launch = %q/%q, %v; want no observation and context.Canceled", o.Outcome, o.Failure, err)
	}
	if rt.removed != 1 {
		t.Errorf("removed %d containers, want 1", rt.removed)
	}
}

// TestValidateInterrupted: Validate cancelled during the pull, or between
// two launches, returns an error wrapping context.Canceled (a cancelled
// search is never done), records only the launches that finished (0 and
// 1) and leaves no container.
func TestValidateInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// set arms the cancel on rt or on the progress events.
		set  func(rt *fakeRuntime, cancel context.CancelFunc) func(Event)
		want int
	}{
		{"pull", func(rt *fakeRuntime, cancel context.CancelFunc) func(Event) {
			rt.pullHook = func(ctx context.Context) error {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}, 0},
		{"between launches", func(rt *fakeRuntime, cancel context.CancelFunc) func(Event) {
			return func(ev Event) {
				if ev.Kind == EventObserved && ev.Launch == 1 {
					cancel()
				}
			}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rt := &fakeRuntime{edge: 20000, budget: 20461, missing: map[string]bool{"vramcalc/tgisim:dev": true}}
			path := filepath.Join(t.TempDir(), "results.jsonl")
			v := llama8BOnL4(rt, path)
			v.Launch.Progress = tc.set(rt, cancel)
			res, err := Validate(ctx, v)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Validate = %v (edge %+v), want context.Canceled", err, res.Edge)
			}
			s, onDisk, err := OpenStore(path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if len(onDisk.Observations) != tc.want || len(rt.started) != tc.want || len(rt.live) != 0 {
				t.Errorf("%d observations on disk, %d started, %d live; want %d, %d, 0", len(onDisk.Observations), len(rt.started), len(rt.live), tc.want, tc.want)
			}
		})
	}
}
