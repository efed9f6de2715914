package hub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/hub"
	"github.com/vramcalc/vramcalc/hfmeta/internal/fixture"
)

// fakeClock records the waits a Client asks for and advances its time by
// them, without waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// answer is one scripted answer to a config.json request.
type answer func(w http.ResponseWriter)

func status(code int, retryAfter string) answer {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, http.StatusText(code), code)
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// scriptedHub serves testdata/hub, except that the first requests for a
// config.json get script's answers, in order (the last one repeats when
// repeat is set); it counts the config.json requests.
func scriptedHub(t *testing.T, repeat bool, script ...answer) (*httptest.Server, func() int) {
	fake := &fakeHub{files: testdataHub()}
	var mu sync.Mutex
	asked := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/config.json") {
			mu.Lock()
			i := asked
			asked++
			mu.Unlock()
			if repeat && i >= len(script) {
				i = len(script) - 1
			}
			if i < len(script) {
				script[i](w)
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return asked }
}

// TestHubRetries: which answers are retried, after which waits (as the
// fake clock saw them asked for), how often, and the error when the
// retries end.
func TestHubRetries(t *testing.T) {
	const token = "hf_retrySECRETtoken"
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := time.Second
	for _, tt := range []struct {
		name     string
		script   []answer
		repeat   bool
		client   hub.Client
		deadline time.Duration // 0: none
		waits    []time.Duration
		asked    int
		status   int    // 0: success
		msg      string // the error after the URL
	}{
		{name: "429 with Retry-After seconds", script: []answer{status(429, "7"), status(429, "7")},
			waits: []time.Duration{7 * s, 7 * s}, asked: 3},
		// 12:00:12 GMT is 12 s after the fake clock's 12:00:00.
		{name: "429 with Retry-After date", script: []answer{status(429, "Sun, 01 Jun 2025 12:00:12 GMT")},
			waits: []time.Duration{12 * s}, asked: 2},
		{name: "Retry-After date already past", script: []answer{status(503, "Sun, 01 Jun 2025 11:00:00 GMT")},
			waits: []time.Duration{0}, asked: 2},
		// huggingface_hub's backoff: 1 s doubling up to 8 s, 5 retries:
		// 1 + 2 + 4 + 8 + 8 = 23 s over 6 attempts.
		{name: "503 every time", script: []answer{status(503, "")}, repeat: true,
			waits: []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 8 * s}, asked: 6, status: 503,
			msg: ": 503 Service Unavailable (6 attempts)"},
		{name: "500, 502, then an answer", script: []answer{status(500, ""), status(502, "")},
			waits: []time.Duration{1 * s, 2 * s}, asked: 3},
		{name: "408 and 504", script: []answer{status(408, ""), status(504, "")},
			waits: []time.Duration{1 * s, 2 * s}, asked: 3},
		// 3600 s > the 30 s bound: reported at once, not waited out.
		{name: "429 asking for an hour", script: []answer{status(429, "3600")},
			asked: 1, status: 429,
			msg: ": 429 Too Many Requests: Retry-After asks to wait 1h0m0s, more than the 30s this client waits"},
		{name: "MaxRetryWait 60s takes 45s", script: []answer{status(429, "45")}, client: hub.Client{MaxRetryWait: time.Minute},
			waits: []time.Duration{45 * s}, asked: 2},
		// 20 s > the 10 s left before the deadline: no wait begun.
		{name: "Retry-After past the deadline", script: []answer{status(429, "20")}, deadline: 10 * s,
			asked: 1, status: 429,
			msg: ": 429 Too Many Requests: a retry in 20s would pass the deadline"},
		{name: "MaxRetries 2", script: []answer{status(429, "1")}, repeat: true, client: hub.Client{MaxRetries: 2},
			waits: []time.Duration{1 * s, 1 * s}, asked: 3, status: 429, msg: ": 429 Too Many Requests (3 attempts)"},
		{name: "no retries", script: []answer{status(503, "")}, client: hub.Client{MaxRetries: -1},
			asked: 1, status: 503, msg: ": 503 Service Unavailable"},
		{name: "404 is not retried", script: []answer{status(404, "")},
			asked: 1, status: 404, msg: ": 404 Not Found: not found"},
		{name: "connection closed twice", script: []answer{hangUp, hangUp},
			waits: []time.Duration{1 * s, 2 * s}, asked: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, asked := scriptedHub(t, tt.repeat, tt.script...)
			clock := &fakeClock{now: start}
			c := tt.client
			c.Endpoint, c.Token, c.Sleep, c.Now = srv.URL, token, clock.Sleep, clock.Now
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			m, err := c.Fetch(ctx, "Qwen/Qwen3-0.6B")
			if !slices.Equal(clock.waits, tt.waits) || asked() != tt.asked {
				t.Errorf("waited %v over %d requests, want %v over %d", clock.waits, asked(), tt.waits, tt.asked)
			}
			if tt.status == 0 {
				if err != nil || m.Model.Layers != 28 {
					t.Fatalf("err %v, %d layers", err, m.Model.Layers)
				}
				return
			}
			var he *hub.HTTPError
			want := "hfmeta: fetch config Qwen/Qwen3-0.6B: GET " + srv.URL + "/Qwen/Qwen3-0.6B/resolve/main/config.json" + tt.msg
			if !errors.As(err, &he) || he.Status != tt.status || he.Attempts != tt.asked || err.Error() != want {
				t.Fatalf("err = %v (%+v)\nwant  %s", err, he, want)
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, he), "SECRET") {
				t.Errorf("the token is in the error")
			}
		})
	}
}

// TestHubRetryClosedConnectionGivesUp: a Hub that always hangs up is
// asked 6 times, then the error says EOF and how many attempts.
func TestHubRetryClosedConnectionGivesUp(t *testing.T) {
	srv, asked := scriptedHub(t, true, hangUp)
	clock := &fakeClock{}
	_, err := (&hub.Client{Endpoint: srv.URL, Sleep: clock.Sleep, Now: clock.Now}).Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if !errors.Is(err, io.EOF) || asked() != 6 || len(clock.waits) != 5 || !strings.HasSuffix(err.Error(), ": EOF (6 attempts)") {
		t.Errorf("err = %v after %d requests and waits %v; want EOF after 6 and 5 waits", err, asked(), clock.waits)
	}
}

// TestHubBodyCutShort: a body shorter than its Content-Length is an error
// wrapping io.ErrUnexpectedEOF, not retried.
func TestHubBodyCutShort(t *testing.T) {
	cut := func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, `{"num_hidden`)
	}
	srv, asked := scriptedHub(t, false, cut)
	_, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if !errors.Is(err, io.ErrUnexpectedEOF) || asked() != 1 {
		t.Errorf("err = %v after %d requests, want io.ErrUnexpectedEOF after 1", err, asked())
	}
}

// shardedRepo is an in-memory Hub repo org/many whose index names k
// one-tensor shards, with Qwen3-0.6B's config.
func shardedRepo(t *testing.T, k int) fstest.MapFS {
	cfg, err := os.ReadFile(filepath.Join("..", "testdata", "hub", "Qwen", "Qwen3-0.6B", "resolve", "main", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]estimate.Tensor, k)
	for i := range ts {
		ts[i] = estimate.Tensor{Name: fmt.Sprintf("extra.%d.weight", i), DType: estimate.BF16, Shape: []int64{4}}
	}
	fsys := fstest.MapFS{"org/many/resolve/main/config.json": {Data: cfg}}
	for name, b := range fixture.Shards(ts, k) {
		fsys["org/many/resolve/main/"+name] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// TestHubShardCap: an index naming MaxShards shards is read (one request
// per shard), one naming MaxShards+1 is refused before any shard is asked.
func TestHubShardCap(t *testing.T) {
	if hub.MaxShards != 1024 {
		t.Fatalf("MaxShards = %d, want 1024", hub.MaxShards)
	}
	fake, srv := newFakeHub(t, shardedRepo(t, 1024))
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "org/many")
	if n, _, _ := fixture.SumTensors(m.Model.Tensors); err != nil || n != 1024 || len(fake.requests("-of-01024.safetensors")) != 1024 {
		t.Fatalf("1024 shards: err %v, %d tensors, %d shard requests; want 1024 and 1024", err, n, len(fake.requests("-of-01024.safetensors")))
	}

	fake, srv = newFakeHub(t, shardedRepo(t, 1025))
	_, err = (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "org/many")
	want := "hfmeta: org/many model.safetensors.index.json names 1025 shard files, more than the 1024 read: too many shards"
	if !errors.Is(err, hub.ErrTooManyShards) || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	if got := fake.requests("/"); len(got) != 2 {
		t.Errorf("requests %q, want config.json and the index only", got)
	}
}

// TestHubOversizeConfig: a config.json one byte over MaxConfigSize is
// refused with hfmeta.ErrFileTooLarge after reading MaxConfigSize+1 bytes.
func TestHubOversizeConfig(t *testing.T) {
	big := make([]byte, hfmeta.MaxConfigSize+1)
	_, srv := newFakeHub(t, fstest.MapFS{"org/big/resolve/main/config.json": {Data: big}})
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "org/big")
	want := "hfmeta: fetch config org/big: GET " + srv.URL + "/org/big/resolve/main/config.json: file too large: larger than 16777216 bytes"
	if !errors.Is(err, hfmeta.ErrFileTooLarge) || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	if m.BytesRead != 0 {
		t.Errorf("Meta %+v on error", m)
	}
}

// redirector serves fake, but redirects the paths in to to their targets
// first.
func redirector(fake *fakeHub, to map[string]func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.mu.Lock()
		target, ok := to[r.URL.Path]
		fake.mu.Unlock()
		if ok {
			fake.mu.Lock()
			fake.log = append(fake.log, r.URL.Path)
			fake.auth = append(fake.auth, r.Header.Get("Authorization"))
			fake.mu.Unlock()
			http.Redirect(w, r, target(), http.StatusFound)
			return
		}
		fake.ServeHTTP(w, r)
	})
}

// authFor is the Authorization header of each logged request to path.
func (h *fakeHub) authFor(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i, l := range h.log {
		if p, _, _ := strings.Cut(l, " "); p == path {
			out = append(out, h.auth[i])
		}
	}
	return out
}

// TestHubRedirectToken: the token follows a redirect within the Hub's
// origin and never one to another port (two httptest servers), nor any
// later hop of that chain, even back to the Hub.
func TestHubRedirectToken(t *testing.T) {
	const token = "hf_redirectSECRETtoken"
	const bearer = "Bearer " + token
	cfg := "/Qwen/Qwen3-0.6B/resolve/main/config.json"
	fakeA := &fakeHub{files: testdataHub(), alias: map[string]string{"org/renamed": "Qwen/Qwen3-0.6B"}}
	fakeB := &fakeHub{files: testdataHub()}
	var a, b *httptest.Server
	a = httptest.NewServer(redirector(fakeA, map[string]func() string{
		"/org/same-origin/resolve/main/config.json": func() string { return cfg },
		"/org/other-port/resolve/main/config.json":  func() string { return b.URL + cfg },
		"/org/back-again/resolve/main/config.json":  func() string { return b.URL + "/bounce" },
	}))
	b = httptest.NewServer(redirector(fakeB, map[string]func() string{
		"/bounce": func() string { return a.URL + "/org/renamed/resolve/main/config.json" },
	}))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	c := &hub.Client{Endpoint: a.URL, Token: token}
	for _, repo := range []string{"org/same-origin", "org/other-port", "org/back-again"} {
		if m, err := c.Fetch(context.Background(), repo); err != nil || m.Model.Layers != 28 {
			t.Fatalf("%s: err %v, %d layers", repo, err, m.Model.Layers)
		}
	}
	for _, tt := range []struct {
		fake *fakeHub
		path string
		want []string
	}{
		{fakeA, "/org/same-origin/resolve/main/config.json", []string{bearer}},
		{fakeA, cfg, []string{bearer}}, // same origin: kept
		{fakeA, "/org/other-port/resolve/main/config.json", []string{bearer}},
		{fakeB, cfg, []string{""}}, // another port: dropped
		{fakeA, "/org/back-again/resolve/main/config.json", []string{bearer}},
		{fakeB, "/bounce", []string{""}},
		{fakeA, "/org/renamed/resolve/main/config.json", []string{""}}, // back at the Hub, after another origin: still dropped
		// The rest of each repo is read from the Hub itself, with the token.
		{fakeA, "/org/other-port/resolve/main/model.safetensors.index.json", []string{bearer}},
	} {
		if got := tt.fake.authFor(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Authorization %q, want %q", tt.path, got, tt.want)
		}
	}
}
