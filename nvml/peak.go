package nvml

import (
	"context"
	"sync"
	"time"
)

// DefaultEvery is the interval Watch uses when given a non-positive one.
const DefaultEvery = 100 * time.Millisecond

// Peak records the highest Used per device while a Watch runs. Its methods
// are safe for concurrent use.
type Peak struct {
	parent context.Context    // the caller's context, for the final sample
	cancel context.CancelFunc // stops the sampling goroutine
	done   chan struct{}      // closed when the goroutine has returned
	s      Sampler
	idx    []int

	stopOnce sync.Once

	mu      sync.Mutex
	max     map[int]uint64
	samples int
	errors  int
	lastErr error
}

// Watch samples the devices in indices from a new goroutine: one round
// immediately, then one every `every` (a non-positive interval means
// DefaultEvery) until Stop is called or ctx is done, and a last round in
// Stop. A round reads the devices one after the other. A round that takes
// longer than the interval delays the next tick rather than piling up
// (time.Ticker drops ticks).
//
// So a watch that runs for d and is then stopped takes floor(d/every)+2
// rounds when the sampler is fast (the start, the ticks, the stop); a tick
// due at the very instant of Stop may or may not be taken.
//
// Sample errors do not stop the watch: they are counted (Errors, Err) and
// sampling goes on. Errors caused by the watch's own cancellation are not
// counted.
//
// The first and the last round run under ctx only (Stop cannot interrupt
// them), so a Sampler that hangs holds Stop until ctx is done; give ctx a
// deadline when the sampler talks to the network.
//
// A Peak holds a goroutine until Stop is called or ctx is done; call Stop
// in every case (it is what waits for the goroutine to return).
func Watch(ctx context.Context, s Sampler, indices []int, every time.Duration) *Peak {
	if every <= 0 {
		every = DefaultEvery
	}
	wctx, cancel := context.WithCancel(ctx)
	p := &Peak{
		parent: ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		s:      s,
		idx:    append([]int(nil), indices...),
		max:    make(map[int]uint64),
	}
	go p.run(wctx, every)
	return p
}

func (p *Peak) run(ctx context.Context, every time.Duration) {
	defer close(p.done)
	// The first round runs under the caller's context, not the watch's, so
	// that a Stop right after Watch still waits for it: every watch has a
	// baseline sample, whatever the scheduling.
	p.round(p.parent)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.round(ctx)
		}
	}
}

// round samples every watched device once.
func (p *Peak) round(ctx context.Context) {
	for _, i := range p.idx {
		if ctx.Err() != nil {
			return
		}
		m, err := p.s.Sample(ctx, i)
		p.mu.Lock()
		switch {
		case err == nil:
			p.samples++
			if cur, ok := p.max[i]; !ok || m.Used > cur {
				p.max[i] = m.Used
			}
		case ctx.Err() == nil: // not our own cancellation
			p.errors++
			p.lastErr = err
		}
		p.mu.Unlock()
	}
}

// Stop ends the watch, waits for the sampling goroutine to return, takes
// one final round of samples (skipped when Watch's ctx is already done) and
// returns the highest Used per device in bytes. A device that was never read
// successfully has no entry, so 0 means "read as 0". Later calls return the
// same values without sampling again.
func (p *Peak) Stop() map[int]uint64 {
	p.stopOnce.Do(func() {
		p.cancel()
		<-p.done
		if p.parent.Err() == nil {
			p.round(p.parent)
		}
	})
	return p.Current()
}

// Current returns the highest Used per device so far, without stopping
// the watch (what Stop returns, less its final round).
func (p *Peak) Current() map[int]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]uint64, len(p.max))
	for i, v := range p.max {
		out[i] = v
	}
	return out
}

// Samples returns the number of successful device readings so far (one per
// device per round).
func (p *Peak) Samples() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.samples
}

// Errors returns the number of failed device readings so far.
func (p *Peak) Errors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errors
}

// Err returns the last sample error, or nil when every reading succeeded.
func (p *Peak) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}
