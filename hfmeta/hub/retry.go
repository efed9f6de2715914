package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retries follow huggingface_hub's http_backoff: the statuses it retries
// (408, 429, 500, 502, 503, 504), 5 retries, waits of 1 s doubling up to
// 8 s, or the wait a Retry-After asks for
// (https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_http.py#L428-L437,
// https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_http.py#L489-L531).
// Unlike it, a Retry-After is honoured only up to Client.MaxRetryWait (it
// waits any), an HTTP date is read too (it reads seconds only,
// https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_http.py#L142-L164),
// no wait is begun that would end past the context's deadline, and of
// failures without an answer only a connection closed early (EOF) is
// retried, not a refused or timed-out one.
const (
	// DefaultMaxRetries is Client.MaxRetries' default.
	DefaultMaxRetries = 5
	// DefaultMaxRetryWait is Client.MaxRetryWait's default: a rate limit
	// asking for longer is reported at once rather than waited out.
	DefaultMaxRetryWait = 30 * time.Second
	baseWait            = 1 * time.Second
	maxBackoff          = 8 * time.Second
)

// retryStatus are the statuses retried.
var retryStatus = map[int]bool{
	http.StatusRequestTimeout: true, http.StatusTooManyRequests: true, http.StatusInternalServerError: true,
	http.StatusBadGateway: true, http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
}

func (c *Client) maxRetries() int {
	switch {
	case c.MaxRetries < 0:
		return 0
	case c.MaxRetries == 0:
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

func (c *Client) maxRetryWait() time.Duration {
	if c.MaxRetryWait <= 0 {
		return DefaultMaxRetryWait
	}
	return c.MaxRetryWait
}

func (c *Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// get sends GET u with an optional Range header, and again after an answer
// worth retrying (retryStatus, or a connection closed without an answer)
// as Client.MaxRetries and the deadline allow. It returns the response for
// 200, 206 and 416 and an *HTTPError for any other status.
func (h *hubRepo) get(ctx context.Context, u, rng string) (*http.Response, error) {
	backoff := baseWait
	for attempt := 1; ; attempt++ {
		resp, err := h.send(ctx, u, rng)
		if err == nil {
			switch resp.StatusCode {
			case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
				return resp, nil
			}
		}
		wait, err := h.verdict(ctx, u, attempt, backoff, resp, err)
		if err != nil {
			return nil, err
		}
		if err := h.c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("GET %s: waiting %v to retry: %w", redactURL(u), wait, err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// verdict judges a failed attempt (sendErr, or resp with a status get does
// not return): the wait before the next one, or the error to return. It
// closes resp.
func (h *hubRepo) verdict(ctx context.Context, u string, attempt int, backoff time.Duration, resp *http.Response, sendErr error) (time.Duration, error) {
	if sendErr != nil {
		if ctx.Err() != nil || !errors.Is(sendErr, io.EOF) && !errors.Is(sendErr, io.ErrUnexpectedEOF) {
			return 0, sendErr
		}
		if stop, why := h.c.stop(ctx, attempt, backoff); stop {
			return 0, fmt.Errorf("%w (%s%s)", sendErr, attempts(attempt), why)
		}
		return backoff, nil
	}
	he := &HTTPError{URL: redactURL(u), Status: resp.StatusCode, Attempts: attempt}
	after, hasAfter := parseRetryAfter(resp.Header.Get("Retry-After"), h.c.now())
	h.discard(resp)
	if !retryStatus[he.Status] {
		return 0, he
	}
	wait := backoff
	if hasAfter {
		he.RetryAfter, wait = after, after
		if after > h.c.maxRetryWait() {
			he.GaveUp = fmt.Sprintf("Retry-After asks to wait %v, more than the %v this client waits", after, h.c.maxRetryWait())
			return 0, he
		}
	}
	if stop, why := h.c.stop(ctx, attempt, wait); stop {
		he.GaveUp = strings.TrimPrefix(why, "; ")
		return 0, he
	}
	return wait, nil
}

// stop reports whether no retry follows attempt when the next would wait
// wait, and why when the retries are not used up: "; " and the reason.
func (c *Client) stop(ctx context.Context, attempt int, wait time.Duration) (bool, string) {
	if attempt > c.maxRetries() {
		return true, ""
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return true, fmt.Sprintf("; a retry in %v would pass the deadline", wait)
	}
	return false, ""
}

// maxRetryAfter clamps a Retry-After in seconds, so that no value
// overflows a time.Duration (about 292 years).
const maxRetryAfter = 1 << 32

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds,
// or an HTTP date measured from now (0 when it is past). ok is false
// without a readable one.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(n, maxRetryAfter)) * time.Second, true
	} else if errors.Is(err, strconv.ErrRange) {
		return maxRetryAfter * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// attempts is "1 attempt" or "n attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
