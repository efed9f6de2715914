package probe

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/nvml"
)

// stuckRuntime runs a container that never becomes healthy and never exits
// until stopped; everything is in memory so that synctest's clock drives
// the health timeout and the sampler.
type stuckRuntime struct {
	fakeRuntime
	stopped atomic.Bool
	exit    chan int
}

func (s *stuckRuntime) Start(_ context.Context, spec ContainerSpec) (Container, error) {
	s.started = append(s.started, spec)
	s.exit = make(chan int, 1)
	return Container{ID: "stuck", Ports: map[int]int{80: 1}}, nil
}
func (s *stuckRuntime) Logs(context.Context, string, bool) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("INFO text_generation_launcher: Starting shard\nINFO text_generation_router_v3: Warming up model\n")), nil
}
func (s *stuckRuntime) Wait(ctx context.Context, _ string) (int, error) {
	select {
	case c := <-s.exit:
		return c, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
func (s *stuckRuntime) Stop(context.Context, string, time.Duration) error {
	if s.stopped.CompareAndSwap(false, true) {
		s.exit <- 143
	}
	return nil
}
func (s *stuckRuntime) Remove(context.Context, string) error { s.removed++; return nil }

// unhealthy answers every health poll with 503, in memory.
type unhealthy struct{ polls atomic.Int64 }

func (u *unhealthy) RoundTrip(r *http.Request) (*http.Response, error) {
	u.polls.Add(1)
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: io.NopCloser(strings.NewReader(`{"error":"unhealthy"}`)), Request: r}, nil
}

// TestLaunchHealthTimeoutAndPeak: a server that never gets healthy is given
// up after the health timeout (measured on synctest's clock: exactly 2 min,
// 479–480 polls at 250 ms), recorded as health_timeout, stopped and removed; the
// NVML peak over the launch is the highest sample the sampler saw.
func TestLaunchHealthTimeoutAndPeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &stuckRuntime{}
		tr := &unhealthy{}
		gib := uint64(1 << 30)
		sampler := &nvml.Fake{
			GPUs: []nvml.Device{{Index: 0, UUID: "GPU-0", Name: "NVIDIA L4", Total: 24 * gib}},
			Samples: map[int][]nvml.MemSample{0: {
				{Used: 1 * gib}, {Used: 15 * gib}, {Used: 19 * gib}, {Used: 17 * gib},
			}},
		}
		var phases []string
		cfg := &Config{Runtime: rt, Engine: TGI{}, Image: "img", Model: "m", RunID: "s1", HealthTimeout: 2 * time.Minute,
			HTTP: &http.Client{Transport: tr}, Sampler: sampler, GPUIndices: []int{0}, SampleEvery: 100 * time.Millisecond,
			Progress: func(ev Event) { phases = append(phases, ev.Phase) }}
		seq := 0
		start := time.Now()
		o, err := cfg.Launcher(&seq)(context.Background(), Point{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 4096})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if took := time.Since(start); took != 2*time.Minute {
			t.Errorf("gave up after %v, want exactly 2m0s", took)
		}
		if o.OK() || o.Failure != estimate.FailureHealthTimeout {
			t.Errorf("outcome %s/%s, want failed/health_timeout", o.Outcome, o.Failure)
		}
		// Polls at 250 ms·k for k = 1 … 479 come before the deadline; the
		// 480th tick fires at the same instant as the 2-minute deadline and
		// select picks either.
		if n := tr.polls.Load(); n != 479 && n != 480 {
			t.Errorf("%d health polls, want 479 or 480", n)
		}
		if got := o.PeakBytes[0]; got != 19*gib {
			t.Errorf("peak %d, want 19 GiB", got)
		}
		if !rt.stopped.Load() || rt.removed != 1 {
			t.Errorf("stopped %v, removed %d", rt.stopped.Load(), rt.removed)
		}
		if !strings.Contains(strings.Join(phases, ","), "warmup") {
			t.Errorf("phases %v lack warmup", phases)
		}
	})
}
