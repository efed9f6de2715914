package load

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/vramcalc/vramcalc/nvml"
)

// watcher samples the timeline from one goroutine until stop.
type watcher struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	pts    []Point
	err    error // the first timeline write error
	take   func(context.Context) Point
	tl     *timelineWriter
}

// watch takes one point now, one every Interval from a new goroutine,
// and a last one in stop: GPU memory of the devices idx, and the engine's
// gauges from its /metrics. Each point is written to tl (when not nil) as
// soon as it is taken.
func (r *runner) watch(ctx context.Context, s nvml.Sampler, idx []int, tl *timelineWriter) *watcher {
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher{cancel: cancel, done: make(chan struct{}), take: func(c context.Context) Point { return r.sample(c, s, idx) }, tl: tl}
	w.add(w.take(ctx))
	go func() {
		defer close(w.done)
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-wctx.Done():
				return
			}
			p := w.take(wctx)
			if wctx.Err() != nil {
				return
			}
			w.add(p)
		}
	}()
	return w
}

func (w *watcher) add(p Point) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pts = append(w.pts, p)
	if w.tl != nil && w.err == nil {
		w.err = w.tl.write(p)
	}
}

// stop ends the sampling, takes the last point under ctx (none when ctx
// is done: an interrupted run, a dead server) and returns the points.
func (w *watcher) stop(ctx context.Context) ([]Point, error) {
	w.cancel()
	<-w.done
	if ctx.Err() == nil {
		w.add(w.take(ctx))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pts, w.err
}

// sample reads one point. What cannot be read is left absent.
func (r *runner) sample(ctx context.Context, s nvml.Sampler, idx []int) Point {
	lvl := int(r.level.Load())
	p := Point{T: time.Since(r.start).Seconds(), Level: r.cfg.Concurrency[lvl], level: lvl}
	if s != nil && len(idx) > 0 {
		used := make([]uint64, 0, len(idx))
		for _, i := range idx {
			m, err := s.Sample(ctx, i)
			if err != nil {
				used = nil
				break
			}
			used = append(used, m.Used)
		}
		p.UsedBytes = used
	}
	if body, ok := r.get(ctx, "/metrics"); ok {
		g := r.api.metrics.read(parseMetrics(body))
		p.KVUsage, p.Running, p.Waiting, p.Preempted = g.kv, g.running, g.waiting, g.preempted
	}
	return p
}

// get fetches path; false on any failure (a server without metrics, such
// as SGLang without --enable-metrics, answers 404).
func (r *runner) get(ctx context.Context, path string) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := r.httpc.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, false
	}
	return b, true
}
