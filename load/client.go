package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runLevel runs conc clients, each sending one request after the other,
// until the level's duration has passed (the requests in flight finish)
// or its requests are sent, and returns the requests that ended. Requests
// cut by the run's cancellation (Ctrl-C, a dead server) are left out: they
// did not fail on their own. Each request's lengths are drawn as it is
// taken, from a generator seeded anew each level: the k-th request of
// every level has the same lengths.
func (r *runner) runLevel(ctx context.Context, conc int) []Request {
	var (
		mu     sync.Mutex
		reqs   []Request
		issued int
		wg     sync.WaitGroup
	)
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0))
	deadline := time.Now().Add(r.cfg.Duration)
	take := func() (in, out int, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if r.cfg.Requests > 0 {
			issued++
			ok = issued <= r.cfg.Requests
		} else {
			ok = time.Now().Before(deadline)
		}
		if ok {
			in, out = r.in.snap(r.in.draw(rng), r.step), r.out.draw(rng)
		}
		return in, out, ok
	}
	for i := range conc {
		wg.Go(func() {
			if r.cfg.Ramp > 0 && i > 0 && !sleep(ctx, r.cfg.Ramp*time.Duration(i)/time.Duration(conc)) {
				return
			}
			for ctx.Err() == nil {
				in, out, ok := take()
				if !ok {
					return
				}
				req, err := r.one(ctx, in, out)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					r.checkAlive(ctx, err)
				}
				mu.Lock()
				reqs = append(reqs, req)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return reqs
}

// sleep waits d, false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// one sends one streaming request of in prompt tokens (a length built
// before the run) asking for out, and times it: the first output token,
// the last, and the exact count the server gives (usage or TGI's details),
// else the chunks counted.
func (r *runner) one(ctx context.Context, in, out int) (Request, error) {
	begin := time.Now()
	failed := func(err error) (Request, error) {
		return Request{Total: time.Since(begin), InputLen: in, OutputLen: out, Failed: true}, err
	}
	resp, err := r.post(ctx, r.api.generatePath, r.api.generateBody(r.cfg.Model, r.prompts[in], out))
	if err != nil {
		return failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return failed(&statusError{path: r.api.generatePath, code: resp.StatusCode, body: snippet(b)})
	}
	req := Request{InputLen: in, OutputLen: out}
	chunks, usage := 0, -1
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !ok {
			continue
		}
		ev, err := r.api.event(bytes.TrimSpace(data))
		if err != nil {
			return failed(fmt.Errorf("load: %s: %w", r.api.generatePath, err))
		}
		if ev.err != "" {
			return failed(fmt.Errorf("load: %s: %s", r.api.generatePath, ev.err))
		}
		if ev.tokens > 0 {
			if chunks == 0 {
				req.FirstToken = time.Since(begin)
			}
			chunks++
			req.Total = time.Since(begin)
		}
		if ev.usage >= 0 {
			usage = ev.usage
		}
	}
	if err := sc.Err(); err != nil {
		return failed(fmt.Errorf("load: %s: %w", r.api.generatePath, err))
	}
	if chunks == 0 {
		return failed(fmt.Errorf("load: %s: the stream ended without output", r.api.generatePath))
	}
	req.OutputTokens = chunks
	if usage >= 0 {
		req.OutputTokens = usage
	}
	r.served.Add(1)
	return req, nil
}

// post sends body as JSON.
func (r *runner) post(ctx context.Context, path string, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.httpc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", path, err)
	}
	return resp, nil
}

// statusError is a generation answered with another status than 200.
type statusError struct {
	path string
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("load: %s: HTTP %d: %s", e.path, e.code, e.body)
}

// checkAlive asks the health endpoint after a request failed with a
// connection error or a server error (5xx): a server that served before
// and now refuses both, or answers its health check with an error, has
// stopped serving (an engine that runs out of memory at run time marks
// itself dead, answers 500 and 503 for a moment, then exits). The first
// such failure ends the run as a runtime_oom at that time, so that clients
// do not count a dead server's instant refusals as the level's errors.
func (r *runner) checkAlive(ctx context.Context, reqErr error) {
	var se *statusError
	if !(connectionError(reqErr) || errors.As(reqErr, &se) && se.code >= 500) || r.served.Load() == 0 {
		return
	}
	at := time.Since(r.start).Seconds()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+r.api.healthPath, nil)
	if err != nil {
		return
	}
	health := ""
	resp, err := r.httpc.Do(req)
	switch {
	case err == nil && resp.StatusCode == http.StatusOK:
		resp.Body.Close()
		return
	case err == nil:
		resp.Body.Close()
		health = fmt.Sprintf("HTTP %d", resp.StatusCode)
	case ctx.Err() != nil || !connectionError(err):
		return
	default:
		health = cause(err)
	}
	r.deadOnce.Do(func() {
		r.dead = &Failure{Kind: "runtime_oom", AtS: at,
			Detail: fmt.Sprintf("the server stopped serving at %.1f s after serving %d requests (%s; GET %s: %s)", at, r.served.Load(), cause(reqErr), r.api.healthPath, health)}
		r.stopAll()
	})
}

// connectionError is a refused or dropped connection, or a stream cut
// short: what a server that exits looks like from outside.
func connectionError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// cause is the innermost message of err, e.g. "connection refused".
func cause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// exactPrompt builds a prompt of exactly n tokens as the server's own
// tokenizer counts them: a repeated word, first words times, grown or
// trimmed in proportion to the count, then one word at a time. It returns
// the prompt and its words.
func (r *runner) exactPrompt(ctx context.Context, n, words int) (string, int, error) {
	closest := 0
	tried := map[int]int{}
	for range 16 {
		text := strings.TrimSpace(strings.Repeat(" hello", words))
		got, err := r.countTokens(ctx, text)
		if err != nil {
			return "", 0, err
		}
		if got == n {
			return text, words, nil
		}
		if got <= 0 {
			return "", 0, fmt.Errorf("load: %s counted no tokens", r.api.tokenizePath)
		}
		tried[words], closest = got, got
		next := max(1, words+(n-got)*words/got)
		if _, seen := tried[next]; seen || next == words {
			next = words + 1
			if got > n {
				next = words - 1
			}
		}
		if _, seen := tried[next]; seen || next < 1 {
			break
		}
		words = next
	}
	return "", 0, fmt.Errorf("%w: %d tokens asked, the server's tokenizer gave %d for the last prompt tried", ErrPrompt, n, closest)
}

func (r *runner) countTokens(ctx context.Context, text string) (int, error) {
	resp, err := r.post(ctx, r.api.tokenizePath, r.api.tokenizeBody(text))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("load: %s: %w", r.api.tokenizePath, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("load: %s: HTTP %d: %s", r.api.tokenizePath, resp.StatusCode, snippet(b))
	}
	n, err := r.api.tokenCount(b)
	if err != nil {
		return 0, fmt.Errorf("load: %s: %w", r.api.tokenizePath, err)
	}
	return n, nil
}
