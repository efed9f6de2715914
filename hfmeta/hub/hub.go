// Package hub reads a model's config.json and safetensors headers from the
// Hugging Face Hub over HTTP, for hfmeta.Client's last step
// (hfmeta.Client.Remote = (&hub.Client{…}).Fetch). It is apart from hfmeta
// so that a program that never asks the Hub does not link net/http,
// crypto/tls and, through net, cgo: vramcalc itself runs it in the
// companion program vramcalc-hub.
//
// For each shard it reads only the header: one HTTP Range request of
// 16 KiB, plus one for the rest when the header is longer. A 30-shard 70B
// checkpoint costs well under 1 MB.
//
// Work is bounded whatever the Hub answers: at most MaxShards shard
// headers, config.json and the index up to hfmeta.MaxConfigSize and
// hfmeta.MaxIndexSize, a bounded number of retries after 408, 429 and 5xx
// answers (Retry-After honoured up to Client.MaxRetryWait, never past the
// context's deadline), and the token sent only to the endpoint's origin
// (redirect.go).
//
// Errors wrap hfmeta's sentinels (hfmeta.ErrGated for 401 and 403,
// hfmeta.ErrNotFound for 404, hfmeta.ErrOffline, hfmeta.ErrFileTooLarge,
// the header ones) or this package's ErrTooManyShards, so callers branch
// with errors.Is; statuses come as *HTTPError. The token never appears in
// an error, a warning or the Meta. The package reads no environment
// variable and prints nothing.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
)

// firstRead is the size of the first Range request for a shard. It holds
// the length prefix and, for headers up to 16 KiB - 8 (a Llama-70B shard
// of 24 tensors is ~3 KB, a GPTQ shard of 80 tensors ~9 KB), the whole
// header, so most shards cost one request; a longer header costs a second
// request for exactly the missing bytes. huggingface_hub's
// get_safetensors_metadata reads 100,000 bytes first; 16 KiB keeps a
// 30-shard model under 1 MB in total (see BenchmarkHub30Shards).
const firstRead = 16 << 10

// prefixSize is the safetensors length prefix, a little-endian u64.
const prefixSize = 8

const userAgent = "vramcalc-hfmeta"

// MaxShards is the most shard files of an index whose headers Fetch reads:
// an index naming more is refused (ErrTooManyShards) before any is asked
// for, so a hostile index cannot make it send tens of thousands of
// requests. The largest real checkpoints have a few hundred shards at
// most (DeepSeek-V3: 163, model-00001-of-000163.safetensors); 1024 is
// six times that, and costs at most 2,048 requests and 16 MiB of first
// reads (1024 × firstRead).
const MaxShards = 1024

// ErrTooManyShards is an index naming more than MaxShards shard files.
var ErrTooManyShards = errors.New("too many shards")

// Client reads models from the Hub. The zero value asks
// https://huggingface.co for revision "main" with no token. Fields are
// read, never changed, so one Client may be used from several goroutines.
type Client struct {
	// Endpoint is the Hub base URL (HF_ENDPOINT); empty means
	// hfmeta.DefaultEndpoint.
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>" when non-empty. It
	// never appears in an error, a warning or Meta.
	Token string
	// HTTP sends the requests; nil means a client with a 60 s timeout.
	HTTP *http.Client
	// Offline refuses to ask (HF_HUB_OFFLINE): Fetch returns
	// hfmeta.ErrOffline.
	Offline bool
	// Revision is the branch, tag or commit to read; empty means "main".
	Revision string
	// Concurrency bounds the shard headers fetched at once; 0 means 8.
	Concurrency int
	// MaxRetries bounds the retries of one request after a 408, 429 or
	// 5xx answer or a connection closed without an answer; 0 means
	// DefaultMaxRetries, a negative value none.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After honoured; an answer asking
	// for longer is not retried. 0 means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// Sleep waits d or until ctx ends (tests pass a fake one); nil means a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the time a Retry-After HTTP date is measured from; nil means
	// time.Now.
	Now func() time.Time
}

const (
	defaultRevision    = "main"
	defaultConcurrency = 8
)

var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return hfmeta.DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) revision() string {
	if c.Revision == "" {
		return defaultRevision
	}
	return c.Revision
}

// httpClient is c.HTTP (or the default) with CheckRedirect dropping the
// token on a redirect to another origin (stripAuthOnRedirect).
func (c *Client) httpClient() *http.Client {
	hc := *defaultHTTP
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	hc.CheckRedirect = stripAuthOnRedirect(hc.CheckRedirect)
	return &hc
}

func (c *Client) concurrency() int {
	if c.Concurrency <= 0 {
		return defaultConcurrency
	}
	return c.Concurrency
}

// Fetch reads repo's config.json and safetensors headers from the Hub at
// c.Revision: GET {endpoint}/{repo}/resolve/{revision}/config.json, then
// model.safetensors.index.json (its weight_map names the shards) or, when
// there is no index, model.safetensors. For each shard it sends one Range
// request for the first 16 KiB and, if the header is longer, one for the
// rest; shards are fetched c.Concurrency at a time. A repo with neither
// file (pytorch_model.bin only) gives a Meta without tensors and a warning.
//
// 401 and 403 give an *HTTPError wrapping hfmeta.ErrGated, 404 one
// wrapping hfmeta.ErrNotFound; timeouts give the context or net error with
// the URL. Messages start "hfmeta: ", as those of the other sources do.
func (c *Client) Fetch(ctx context.Context, repo string) (hfmeta.Meta, error) {
	if c.Offline {
		return hfmeta.Meta{}, fmt.Errorf("hfmeta: hub %s: %w", repo, hfmeta.ErrOffline)
	}
	if err := hfmeta.CheckRepoID(repo); err != nil {
		return hfmeta.Meta{}, fmt.Errorf("hfmeta: hub: %q is not a repo id: %v", repo, err)
	}
	h := &hubRepo{c: c, repo: repo, rev: c.revision(), http: c.httpClient()}

	cfg, err := h.getFile(ctx, "config.json", hfmeta.MaxConfigSize)
	if err != nil {
		return hfmeta.Meta{}, fmt.Errorf("hfmeta: fetch config %s: %w", repo, err)
	}
	model, warnings, err := hfmeta.ParseConfig(cfg)
	if err != nil {
		return hfmeta.Meta{}, fmt.Errorf("%w (config.json of %s on the hub)", err, repo)
	}
	model.ID = repo
	meta := hfmeta.Meta{Model: model, Source: hfmeta.SourceHub, Location: h.base(), Warnings: warnings}

	files := []string{hfmeta.SingleFile}
	index, err := h.getFile(ctx, hfmeta.IndexFile, hfmeta.MaxIndexSize)
	hasIndex := err == nil
	switch {
	case hasIndex:
		if files, err = hfmeta.ParseIndex(index); err != nil {
			return hfmeta.Meta{}, fmt.Errorf("hfmeta: %s %s: %w", repo, hfmeta.IndexFile, err)
		}
		if len(files) > MaxShards {
			return hfmeta.Meta{}, fmt.Errorf("hfmeta: %s %s names %d shard files, more than the %d read: %w",
				repo, hfmeta.IndexFile, len(files), MaxShards, ErrTooManyShards)
		}
	case !errors.Is(err, hfmeta.ErrNotFound):
		return hfmeta.Meta{}, fmt.Errorf("hfmeta: fetch %s %s: %w", repo, hfmeta.IndexFile, err)
	}

	tensors, err := h.headers(ctx, files)
	switch {
	case err == nil:
		meta.SetTensors(tensors, estimate.WeightsFromSafetensors)
	case !hasIndex && errors.Is(err, hfmeta.ErrNotFound):
		meta.Warnings = append(meta.Warnings, fmt.Sprintf("%s has no %s or %s; weights derived from config.json", repo, hfmeta.SingleFile, hfmeta.IndexFile))
	default:
		return hfmeta.Meta{}, err
	}
	meta.BytesRead = h.bytes.Load()
	return meta, nil
}

// hubRepo fetches files of one repo at one revision and counts the body
// bytes read.
type hubRepo struct {
	c     *Client
	repo  string
	rev   string
	http  *http.Client
	bytes atomic.Int64
}

// base is {endpoint}/{repo}/resolve/{revision}, without user info.
func (h *hubRepo) base() string {
	return redactURL(h.c.endpoint()) + "/" + h.repo + "/resolve/" + url.PathEscape(h.rev)
}

func (h *hubRepo) url(file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return h.c.endpoint() + "/" + h.repo + "/resolve/" + url.PathEscape(h.rev) + "/" + strings.Join(parts, "/")
}

// send sends GET u once, with an optional Range header and the token.
// The error of a request that got no answer names u and wraps the cause
// (context.DeadlineExceeded, io.EOF, a net.Error).
func (h *hubRepo) send(ctx context.Context, u, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	req.Header.Set("User-Agent", userAgent)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if h.c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.c.Token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		// *url.Error repeats the URL, possibly the redirect target's;
		// keep its cause (context.DeadlineExceeded, a net.Error) and name
		// the URL asked for.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	return resp, nil
}

// discard closes resp after reading a little of its body, which lets the
// connection be reused.
func (h *hubRepo) discard(resp *http.Response) {
	drained, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	h.bytes.Add(drained)
	resp.Body.Close()
}

// getFile reads a whole small file, refusing one above limit bytes.
func (h *hubRepo) getFile(ctx context.Context, file string, limit int64) ([]byte, error) {
	u := h.url(file)
	resp, err := h.get(ctx, u, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{URL: redactURL(u), Status: resp.StatusCode}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	h.bytes.Add(int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(u), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: %w: larger than %d bytes", redactURL(u), hfmeta.ErrFileTooLarge, limit)
	}
	return b, nil
}

// readRange reads bytes [start, end] of u. It returns fewer bytes when the
// file is shorter, and the file size from Content-Range (or
// Content-Length when the server ignores Range), -1 if unknown.
func (h *hubRepo) readRange(ctx context.Context, u string, start, end int64) ([]byte, int64, error) {
	resp, err := h.get(ctx, u, fmt.Sprintf("bytes=%d-%d", start, end))
	if err != nil {
		return nil, -1, err
	}
	defer resp.Body.Close()
	body := &countingReader{r: resp.Body, n: &h.bytes}
	want := end - start + 1
	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		_, _, total, _ = parseContentRange(resp.Header.Get("Content-Range"))
		return nil, total, nil
	case http.StatusPartialContent:
		first, last, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != start || last < first {
			return nil, -1, fmt.Errorf("GET %s: bad Content-Range %q for bytes=%d-%d", redactURL(u), resp.Header.Get("Content-Range"), start, end)
		}
		total, want = size, min(want, last-first+1)
	default: // 200: the server ignored Range and sends the whole file.
		total = resp.ContentLength
		if _, err := io.CopyN(io.Discard, body, start); err != nil {
			return nil, total, readErr(u, err)
		}
	}
	b, err := io.ReadAll(io.LimitReader(body, want))
	if err != nil {
		return nil, total, readErr(u, err)
	}
	return b, total, nil
}

func readErr(u string, err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("GET %s: %w", redactURL(u), err)
}

// parseContentRange parses "bytes first-last/size" and "bytes */size";
// size is -1 for "*".
func parseContentRange(s string) (first, last, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, -1, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, -1, false
	}
	size = -1
	if sz != "*" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, -1, false
		}
		size = n
	}
	if rng == "*" {
		return 0, 0, size, true
	}
	a, b, found := strings.Cut(rng, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, -1, false
	}
	return first, last, size, true
}

// header fetches and parses one shard's header in at most two requests.
func (h *hubRepo) header(ctx context.Context, file string) ([]estimate.Tensor, error) {
	u := h.url(file)
	first, total, err := h.readRange(ctx, u, 0, firstRead-1)
	if err != nil {
		return nil, err
	}
	need, err := hfmeta.HeaderSize(first, total)
	if err != nil {
		return nil, err
	}
	if int64(len(first)) < need {
		rest, _, err := h.readRange(ctx, u, int64(len(first)), need-1)
		if err != nil {
			return nil, err
		}
		if got := int64(len(first) + len(rest)); got < need {
			return nil, fmt.Errorf("%w: length prefix says %d bytes, the file has %d after it", hfmeta.ErrTruncated, need-prefixSize, got-prefixSize)
		}
		first = append(first, rest...)
	}
	return hfmeta.DecodeHeader(first[:need])
}

// headers fetches the headers of files, c.Concurrency at a time, and
// returns their tensors in file order. The first failure cancels the rest.
func (h *hubRepo) headers(ctx context.Context, files []string) ([]estimate.Tensor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([][]estimate.Tensor, len(files))
	sem := make(chan struct{}, h.c.concurrency())
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for i, f := range files {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				fail(fmt.Errorf("hfmeta: fetch header %s %s: %w", h.repo, f, ctx.Err()))
				return
			}
			defer func() { <-sem }()
			ts, err := h.header(ctx, f)
			if err != nil {
				fail(fmt.Errorf("hfmeta: fetch header %s %s: %w", h.repo, f, err))
				return
			}
			results[i] = ts
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return slices.Concat(results...), nil
}

// countingReader adds the bytes read to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// HTTPError is a Hub response with an unexpected status. URL is the URL
// requested (never the redirect target, whose query may hold signed
// credentials, and never a token: tokens travel only in the Authorization
// header). It wraps hfmeta.ErrGated for 401 and 403 and hfmeta.ErrNotFound
// for 404.
type HTTPError struct {
	URL    string
	Status int
	// Attempts is how many times URL was asked, retries included.
	Attempts int
	// RetryAfter is the wait the last answer's Retry-After asked for, 0
	// without one.
	RetryAfter time.Duration
	// GaveUp says why a retryable answer was not retried again ("" when
	// the status is not retried).
	GaveUp string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		msg += " (" + attempts(e.Attempts) + ")"
	}
	if e.GaveUp != "" {
		msg += ": " + e.GaveUp
	}
	switch e.Status {
	case http.StatusUnauthorized:
		return msg + ": the repo is gated or private (or does not exist); a token with access is needed"
	case http.StatusForbidden:
		return msg + ": the repo is gated or private and the token has no access to it; request access on the model page"
	case http.StatusNotFound:
		return msg + ": not found"
	}
	return msg
}

// Unwrap returns the sentinel the status stands for, or nil.
func (e *HTTPError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return hfmeta.ErrGated
	case http.StatusNotFound:
		return hfmeta.ErrNotFound
	}
	return nil
}

// redactURL returns u without user info and query, for error messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable url)"
	}
	p.User = nil
	p.RawQuery = ""
	p.Fragment = ""
	return p.String()
}
