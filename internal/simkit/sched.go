package simkit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// SchedConfig is the engine's serving limits.
type SchedConfig struct {
	// NumBlocks is the KV pool in blocks of BlockSize tokens (SGLang's
	// token pool is blocks of one token, or of its page size).
	NumBlocks, BlockSize int
	// MaxRunning caps the running requests (vLLM --max-num-seqs, SGLang
	// --max-running-requests); 0 means no cap.
	MaxRunning int
	// StepTokens is the tokens one scheduler step may compute (vLLM
	// --max-num-batched-tokens, SGLang --chunked-prefill-size); a longer
	// prompt is prefilled in chunks over several steps. 0 means no limit.
	StepTokens int
	// StepDelay is the time of one step, i.e. per generated token.
	StepDelay time.Duration
}

// ErrTooLong is a request that needs more KV blocks than the whole pool.
var ErrTooLong = errors.New("simkit: request needs more KV cache than the pool holds")

// Scheduler is a continuous-batching scheduler in the manner of vLLM v1's:
// every step it first advances the running requests (a prefill chunk or one
// decode token each), allocating KV blocks as their context grows and
// preempting the most recently admitted request when blocks run out (its
// blocks are freed and it is recomputed later), then admits waiting
// requests first come first served while blocks, the running cap and the
// step's token budget allow.
type Scheduler struct {
	cfg  SchedConfig
	mu   sync.Mutex
	free int
	// running in admission order; waiting is FIFO with preempted requests
	// put back at the front.
	running, waiting []*Request
	stats            Stats
	dead             error
	wake             chan struct{}
	// OnFinish is called, outside the lock, once per finished request.
	OnFinish func()
}

// Stats are the scheduler's gauges and counters.
type Stats struct {
	Running, Waiting      int
	UsedBlocks, NumBlocks int
	Preemptions           int64
	PromptTokens          int64
	GenerationTokens      int64
	Finished              int64
}

// Request is one generation in the scheduler.
type Request struct {
	Prompt, MaxTokens int
	computed          int // tokens whose KV is in the pool
	generated         int
	blocks            int
	out               chan int
	err               error
	done              bool
}

// NewScheduler is an idle scheduler over cfg's pool.
func NewScheduler(cfg SchedConfig) *Scheduler {
	return &Scheduler{cfg: cfg, free: cfg.NumBlocks, wake: make(chan struct{}, 1)}
}

// Submit queues a request of prompt tokens that generates maxTokens.
func (s *Scheduler) Submit(prompt, maxTokens int) *Request {
	r := &Request{Prompt: prompt, MaxTokens: max(maxTokens, 1), out: make(chan int, max(maxTokens, 1))}
	s.mu.Lock()
	if s.dead != nil {
		r.err, r.done = s.dead, true
		close(r.out)
	} else {
		s.waiting = append(s.waiting, r)
	}
	s.mu.Unlock()
	s.poke()
	return r
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next waits for the request's next token and returns its index in the
// generation; ok is false at the end, when Err says why if it failed.
func (r *Request) Next(ctx context.Context) (k int, ok bool) {
	select {
	case k, ok = <-r.out:
		return k, ok
	case <-ctx.Done():
		return 0, false
	}
}

// Err is why the request ended early (nil after a full generation).
func (s *Scheduler) Err(r *Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.err
}

// Abort drops a request (its client went away) and frees its blocks.
func (s *Scheduler) Abort(r *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.done {
		return
	}
	s.running = remove(s.running, r)
	s.waiting = remove(s.waiting, r)
	s.end(r, context.Canceled)
}

// Fail ends every request with err and refuses new ones: the engine died.
func (s *Scheduler) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = err
	for _, r := range append(s.running, s.waiting...) {
		s.end(r, err)
	}
	s.running, s.waiting = nil, nil
}

// end frees r's blocks and closes its stream; the lock is held.
func (s *Scheduler) end(r *Request, err error) {
	s.free += r.blocks
	r.blocks, r.err, r.done = 0, err, true
	close(r.out)
}

func remove(rs []*Request, r *Request) []*Request {
	for i, q := range rs {
		if q == r {
			return append(rs[:i:i], rs[i+1:]...)
		}
	}
	return rs
}

// Stats is a snapshot of the gauges and counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Running, st.Waiting = len(s.running), len(s.waiting)
	st.NumBlocks, st.UsedBlocks = s.cfg.NumBlocks, s.cfg.NumBlocks-s.free
	return st
}

// Run steps the scheduler until ctx ends, sleeping StepDelay between
// steps and waiting for work when idle.
func (s *Scheduler) Run(ctx context.Context) {
	for {
		s.mu.Lock()
		idle := len(s.running)+len(s.waiting) == 0
		s.mu.Unlock()
		if idle {
			select {
			case <-s.wake:
			case <-ctx.Done():
				return
			}
		}
		if finished := s.Step(); finished > 0 && s.OnFinish != nil {
			for range finished {
				s.OnFinish()
			}
		}
		if !sleepCtx(ctx, s.cfg.StepDelay) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Step runs one scheduler step and returns how many requests finished.
func (s *Scheduler) Step() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	budget := s.cfg.StepTokens
	if budget <= 0 {
		budget = int(^uint(0) >> 1)
	}
	finished, preempted := 0, false
	for i := 0; i < len(s.running); i++ {
		r := s.running[i]
		n := min(r.Prompt+r.generated-r.computed, budget)
		if n <= 0 {
			continue
		}
		if !s.grow(r, n) {
			preempted = true
			if r.done || !contains(s.running, r) {
				break // r itself was preempted (it was last) or failed
			}
		}
		budget -= n
		if s.advance(r, n) {
			s.running = remove(s.running, r)
			i--
			finished++
		}
	}
	if !preempted {
		finished += s.admit(budget)
	}
	return finished
}

func contains(rs []*Request, r *Request) bool {
	for _, q := range rs {
		if q == r {
			return true
		}
	}
	return false
}

// blocksFor is the blocks that hold n tokens.
func (s *Scheduler) blocksFor(n int) int {
	return (n + s.cfg.BlockSize - 1) / s.cfg.BlockSize
}

// grow gives r the blocks for n more tokens, preempting from the tail of
// the running list until they fit; false if anything was preempted (r
// included, when it was the tail) or r can never fit.
func (s *Scheduler) grow(r *Request, n int) bool {
	need := s.blocksFor(r.computed+n) - r.blocks
	ok := true
	for need > s.free {
		if len(s.running) == 1 && s.running[0] == r {
			s.running = nil
			s.end(r, ErrTooLong)
			return false
		}
		victim := s.running[len(s.running)-1]
		s.preempt(victim)
		ok = false
		if victim == r {
			return false
		}
	}
	s.free -= need
	r.blocks += need
	return ok
}

// preempt frees victim's blocks and puts it at the front of the queue; it
// recomputes its prompt and what it generated when it runs again.
func (s *Scheduler) preempt(victim *Request) {
	s.running = remove(s.running, victim)
	s.free += victim.blocks
	victim.blocks, victim.computed = 0, 0
	s.waiting = append([]*Request{victim}, s.waiting...)
	s.stats.Preemptions++
}

// advance computes n tokens of r and emits a token once r caught up;
// true when r finished (its blocks are freed).
func (s *Scheduler) advance(r *Request, n int) bool {
	r.computed += n
	if r.computed < r.Prompt+r.generated {
		return false
	}
	if r.generated == 0 {
		s.stats.PromptTokens += int64(r.Prompt)
	}
	r.out <- r.generated
	r.generated++
	s.stats.GenerationTokens++
	if r.generated < r.MaxTokens {
		return false
	}
	s.stats.Finished++
	s.end(r, nil)
	return true
}

// admit moves waiting requests to running, first come first served, while
// the cap, the budget and the free blocks allow; it returns how many of
// them finished in this step.
func (s *Scheduler) admit(budget int) int {
	finished := 0
	for len(s.waiting) > 0 && budget > 0 && (s.cfg.MaxRunning <= 0 || len(s.running) < s.cfg.MaxRunning) {
		r := s.waiting[0]
		n := min(r.Prompt+r.generated-r.computed, budget)
		need := s.blocksFor(r.computed+n) - r.blocks
		if need > s.cfg.NumBlocks {
			s.waiting = s.waiting[1:]
			s.end(r, ErrTooLong)
			continue
		}
		if need > s.free {
			break
		}
		s.waiting = s.waiting[1:]
		s.free -= need
		r.blocks += need
		budget -= n
		if s.advance(r, n) {
			finished++
		} else {
			s.running = append(s.running, r)
		}
	}
	return finished
}
