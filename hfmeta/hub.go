package hfmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vramcalc/vramcalc/estimate"
)

// firstRead is the size of the first Range request for a shard. It holds
// the length prefix and, for headers up to 16 KiB - 8 (a Llama-70B shard
// of 24 tensors is ~3 KB, a GPTQ shard of 80 tensors ~9 KB), the whole
// header, so most shards cost one request; a longer header costs a second
// request for exactly the missing bytes. huggingface_hub's
// get_safetensors_metadata reads 100,000 bytes first; 16 KiB keeps a
// 30-shard model under 1 MB in total (see BenchmarkHub30Shards).
const firstRead = 16 << 10

const userAgent = "vramcalc-hfmeta"

// FromHub reads repo's config.json and safetensors headers from the Hub at
// c.Revision: GET {endpoint}/{repo}/resolve/{revision}/config.json, then
// model.safetensors.index.json (its weight_map names the shards) or, when
// there is no index, model.safetensors. For each shard it sends one Range
// request for the first 16 KiB and, if the header is longer, one for the
// rest; shards are fetched c.Concurrency at a time. A repo with neither
// file (pytorch_model.bin only) gives a Meta without tensors and a warning.
//
// 401 and 403 give an *HTTPError wrapping ErrGated, 404 one wrapping
// ErrNotFound; timeouts give the context or net error with the URL.
func (c *Client) FromHub(ctx context.Context, repo string) (Meta, error) {
	if c.Offline {
		return Meta{}, fmt.Errorf("hfmeta: hub %s: %w", repo, ErrOffline)
	}
	if err := checkRepoID(repo); err != nil {
		return Meta{}, fmt.Errorf("hfmeta: hub: %q is not a repo id: %v", repo, err)
	}
	h := &hubRepo{c: c, repo: repo, rev: c.revision()}

	cfg, err := h.getFile(ctx, "config.json", maxConfigSize)
	if err != nil {
		return Meta{}, fmt.Errorf("hfmeta: fetch config %s: %w", repo, err)
	}
	model, warnings, err := ParseConfig(cfg)
	if err != nil {
		return Meta{}, fmt.Errorf("%w (config.json of %s on the hub)", err, repo)
	}
	model.ID = repo
	meta := Meta{Source: SourceHub, Location: h.base(), Warnings: warnings}

	files := []string{singleFile}
	index, err := h.getFile(ctx, indexFile, maxIndexSize)
	hasIndex := err == nil
	switch {
	case hasIndex:
		if files, err = indexShards(index); err != nil {
			return Meta{}, fmt.Errorf("hfmeta: %s %s: %w", repo, indexFile, err)
		}
	case !errors.Is(err, ErrNotFound):
		return Meta{}, fmt.Errorf("hfmeta: fetch %s %s: %w", repo, indexFile, err)
	}

	tensors, err := h.headers(ctx, files)
	switch {
	case err == nil:
		setTensors(&model, tensors, estimate.WeightsFromSafetensors, &meta)
	case !hasIndex && errors.Is(err, ErrNotFound):
		meta.Warnings = append(meta.Warnings, fmt.Sprintf("%s has no %s or %s; weights derived from config.json", repo, singleFile, indexFile))
	default:
		return Meta{}, err
	}
	meta.Model = model
	meta.BytesRead = h.bytes.Load()
	return meta, nil
}

// hubRepo fetches files of one repo at one revision and counts the body
// bytes read.
type hubRepo struct {
	c     *Client
	repo  string
	rev   string
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

// get sends GET u with an optional Range header. It returns the response
// for 200, 206 and 416 and an *HTTPError for any other status.
func (h *hubRepo) get(ctx context.Context, u, rng string) (*http.Response, error) {
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
	resp, err := h.c.httpClient().Do(req)
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
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
		return resp, nil
	}
	drained, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
	h.bytes.Add(drained)
	resp.Body.Close()
	return nil, &HTTPError{URL: redactURL(u), Status: resp.StatusCode}
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
		return nil, fmt.Errorf("GET %s: larger than %d bytes", redactURL(u), limit)
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
	if len(first) < headerPrefix {
		return nil, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte length prefix", ErrTruncated, len(first))
	}
	n, err := headerLength(first[:headerPrefix], total)
	if err != nil {
		return nil, err
	}
	need := headerPrefix + n
	if int64(len(first)) < need {
		rest, _, err := h.readRange(ctx, u, int64(len(first)), need-1)
		if err != nil {
			return nil, err
		}
		if got := int64(len(first) + len(rest)); got < need {
			return nil, fmt.Errorf("%w: length prefix says %d bytes, the file has %d after it", ErrTruncated, n, got-headerPrefix)
		}
		first = append(first, rest...)
	}
	return decodeHeader(first[headerPrefix:need])
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

// The file names transformers saves (huggingface_hub's SAFETENSORS_SINGLE_FILE
// and SAFETENSORS_INDEX_FILE, https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L51-L52).
const (
	singleFile = "model.safetensors"
	indexFile  = "model.safetensors.index.json"
)

// indexShards returns the distinct shard files an index's weight_map
// names, sorted. Names must be relative paths inside the repo.
func indexShards(data []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("bad index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, errors.New("bad index: empty weight_map")
	}
	var files []string
	for _, f := range idx.WeightMap {
		if f == "" || path.IsAbs(f) || path.Clean(f) != f || f == ".." || strings.HasPrefix(f, "../") || strings.Contains(f, `\`) {
			return nil, fmt.Errorf("bad index: shard name %q is not a relative path inside the repo", f)
		}
		files = append(files, f)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
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
