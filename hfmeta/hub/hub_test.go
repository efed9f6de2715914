package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/hub"
	"github.com/vramcalc/vramcalc/hfmeta/internal/fixture"
)

// fakeHub answers like huggingface.co's /{org}/{repo}/resolve/{rev}/{file},
// serving files laid out as {org}/{repo}/resolve/{rev}/{file} in an fs.FS
// (../testdata/hub, or an in-memory fstest.MapFS). http.ServeContent honours
// Range. A header-only *.safetensors fixture is served at its real size:
// its header followed by as many zero bytes as the header's tensors take,
// so a Range read past the header returns data as on the real Hub (a
// file whose header does not parse is served as is). The hub counts the
// response body bytes it writes, which is what the transfer bounds are
// asserted on.
type fakeHub struct {
	files fs.FS
	// alias maps a repo id to the fixture repo that serves it.
	alias map[string]string
	// gated repos answer 401 without a token and 403 with a token other
	// than grant. The error body echoes the Authorization header, so a
	// client that put response bodies into errors would leak the token.
	gated map[string]bool
	grant string
	// redirectLFS sends *.safetensors through a 302 to /lfs/..., as the Hub
	// redirects LFS files to its CDN.
	redirectLFS bool
	// ignoreRange serves whole files with 200, like a server without
	// Range support.
	ignoreRange bool
	// hold, when set, runs before each request is served.
	hold func(r *http.Request)

	bytes atomic.Int64

	mu   sync.Mutex
	log  []string // "path range"
	auth []string // Authorization header per request
}

func newFakeHub(t testing.TB, files fs.FS) (*fakeHub, *httptest.Server) {
	h := &fakeHub{files: files}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func testdataHub() fs.FS { return os.DirFS(filepath.Join("..", "testdata", "hub")) }

// countingWriter counts body bytes before writing them, so the count is
// complete by the time the client has read them.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	k, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(k - len(p)))
	return k, err
}

// paddedFile reads as head followed by zeros up to size.
type paddedFile struct {
	head      []byte
	size, off int64
}

func (f *paddedFile) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), f.size-f.off)]
	k := 0
	if f.off < int64(len(f.head)) {
		k = copy(p, f.head[f.off:])
	}
	clear(p[k:])
	f.off += int64(len(p))
	return len(p), nil
}

func (f *paddedFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		off += f.size
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	f.off = off
	return off, nil
}

// open returns the content to serve for p.
func (h *fakeHub) open(p string) (io.ReadSeeker, int64, error) {
	b, err := fs.ReadFile(h.files, p)
	if err != nil {
		return nil, 0, err
	}
	size := int64(len(b))
	if strings.HasSuffix(p, ".safetensors") {
		if ts, err := hfmeta.ParseHeader(bytes.NewReader(b)); err == nil {
			_, _, data := fixture.SumTensors(ts)
			size += data
		}
	}
	return &paddedFile{head: b, size: size}, size, nil
}

func (h *fakeHub) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.log = append(h.log, strings.TrimSpace(r.URL.Path+" "+r.Header.Get("Range")))
	h.auth = append(h.auth, r.Header.Get("Authorization"))
	h.mu.Unlock()
	if h.hold != nil {
		h.hold(r)
	}
	w := &countingWriter{ResponseWriter: rw, n: &h.bytes}

	p, lfs := strings.CutPrefix(strings.TrimPrefix(r.URL.Path, "/"), "lfs/")
	parts := strings.SplitN(p, "/", 5) // org, name, "resolve", rev, file
	if len(parts) < 5 || parts[2] != "resolve" {
		http.Error(w, "Repository not found", http.StatusNotFound)
		return
	}
	repo := parts[0] + "/" + parts[1]
	if auth := r.Header.Get("Authorization"); h.gated[repo] && auth != "Bearer "+h.grant {
		status := http.StatusForbidden
		if auth == "" {
			status = http.StatusUnauthorized
		}
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.Header().Set("X-Error-Message", "Access to "+repo+" is restricted; you sent "+auth)
		http.Error(w, "Access restricted; Authorization: "+auth, status)
		return
	}
	if a, ok := h.alias[repo]; ok {
		p = a + "/" + strings.Join(parts[2:], "/")
	}
	f, size, err := h.open(p)
	if err != nil {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	if h.redirectLFS && !lfs && strings.HasSuffix(p, ".safetensors") {
		http.Redirect(w, r, "/lfs/"+p, http.StatusFound)
		return
	}
	if h.ignoreRange {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.Copy(w, f)
		return
	}
	http.ServeContent(w, r, path.Base(p), time.Time{}, f)
}

// requests returns the logged requests whose path contains s.
func (h *fakeHub) requests(s string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.log {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func TestHubSingleFile(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	c := &hub.Client{Endpoint: srv.URL}
	m, err := c.Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "hub" || m.Location != srv.URL+"/Qwen/Qwen3-0.6B/resolve/main" || m.Model.ID != "Qwen/Qwen3-0.6B" {
		t.Errorf("Source %q, Location %q, ID %q", m.Source, m.Location, m.Model.ID)
	}
	if m.Model.Layers != 28 || m.Model.Hidden != 1024 || m.Model.HeadDim != 128 {
		t.Errorf("config: %d layers, hidden %d, head_dim %d; want 28, 1024, 128", m.Model.Layers, m.Model.Hidden, m.Model.HeadDim)
	}
	n, elements, size := fixture.SumTensors(m.Model.Tensors)
	if n != 311 || elements != 751_632_384 || size != 1_503_264_768 || len(m.Model.Tensors) != 14 {
		t.Errorf("tensors: %d in %d entries, %d elements, %d bytes; want 311 in 14, 751632384, 1503264768",
			n, len(m.Model.Tensors), elements, size)
	}
	// The 35,352-byte header file takes two Range requests: the first
	// 16 KiB, then exactly the rest.
	st := "/Qwen/Qwen3-0.6B/resolve/main/model.safetensors"
	want := []string{st + ".index.json", st + " bytes=0-16383", st + " bytes=16384-35351"}
	if got := fake.requests("model.safetensors"); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	cfg := fixture.FileSize(t, testdataHub(), "Qwen/Qwen3-0.6B/resolve/main/config.json")
	if wantBytes := cfg + int64(len("Entry not found\n")) + 35_352; m.BytesRead != wantBytes || fake.bytes.Load() != wantBytes {
		t.Errorf("BytesRead %d, server wrote %d; want %d", m.BytesRead, fake.bytes.Load(), wantBytes)
	}
}

func TestHubShardedConcurrent(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	// Each shard request stays in flight 50 ms (counted before its
	// response is written): with Concurrency 2 the four shards must
	// overlap exactly two at a time.
	var inFlight, maxInFlight atomic.Int64
	fake.hold = func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "-of-00004.safetensors") {
			return
		}
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
	}
	c := &hub.Client{Endpoint: srv.URL, Concurrency: 2}
	m, err := c.Fetch(context.Background(), "meta-llama/Llama-3.1-8B-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	if got := maxInFlight.Load(); got != 2 {
		t.Errorf("max concurrent shard requests %d, want 2", got)
	}
	// 32 layers × 9 + embed_tokens + norm + lm_head = 291 tensors;
	// 8,030,261,248 BF16 elements = 16,060,522,496 bytes (the index's total_size).
	n, elements, size := fixture.SumTensors(m.Model.Tensors)
	if n != 291 || elements != 8_030_261_248 || size != 16_060_522_496 || len(m.Model.Tensors) != 12 {
		t.Errorf("tensors: %d in %d entries, %d elements, %d bytes; want 291 in 12, 8030261248, 16060522496",
			n, len(m.Model.Tensors), elements, size)
	}
	if m.Model.Layers != 32 || m.Model.KVHeads != 8 {
		t.Errorf("config: %d layers, %d kv heads", m.Model.Layers, m.Model.KVHeads)
	}
	// Each ~8.4 KB shard header fits in the first 16 KiB: one request each.
	if got := fake.requests("-of-00004.safetensors"); len(got) != 4 {
		t.Errorf("shard requests %q, want 4", got)
	}
	dir := "meta-llama/Llama-3.1-8B-Instruct/resolve/main/"
	want := 4*16384 + fixture.FileSize(t, testdataHub(), dir+"config.json") + fixture.FileSize(t, testdataHub(), dir+"model.safetensors.index.json")
	if m.BytesRead != want || fake.bytes.Load() != want {
		t.Errorf("BytesRead %d, server wrote %d; want %d", m.BytesRead, fake.bytes.Load(), want)
	}
}

func TestHubLFSRedirect(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	fake.redirectLFS = true
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := fixture.SumTensors(m.Model.Tensors); n != 311 {
		t.Errorf("%d tensors, want 311", n)
	}
	// The Range header survives the redirect.
	want := []string{"/lfs/Qwen/Qwen3-0.6B/resolve/main/model.safetensors bytes=0-16383", "/lfs/Qwen/Qwen3-0.6B/resolve/main/model.safetensors bytes=16384-35351"}
	if got := fake.requests("/lfs/"); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestHubWithoutRangeSupport(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	fake.ignoreRange = true
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if err != nil {
		t.Fatal(err)
	}
	if n, elements, _ := fixture.SumTensors(m.Model.Tensors); n != 311 || elements != 751_632_384 {
		t.Errorf("%d tensors, %d elements; want 311, 751632384", n, elements)
	}
}

func TestHubGated(t *testing.T) {
	const grant, other = "hf_grantedSECRETtoken456", "hf_otherSECRETtoken123"
	repo := "vramcalc-test/gated-model"
	url := "/" + repo + "/resolve/main/config.json"
	for _, tt := range []struct {
		token  string
		status int
	}{{"", 401}, {other, 403}, {grant, 0}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			fake, srv := newFakeHub(t, testdataHub())
			fake.gated, fake.grant = map[string]bool{repo: true}, grant
			m, err := (&hub.Client{Endpoint: srv.URL, Token: tt.token}).Fetch(context.Background(), repo)
			wantAuth := ""
			if tt.token != "" {
				wantAuth = "Bearer " + tt.token
			}
			if fake.auth[0] != wantAuth {
				t.Errorf("Authorization %q, want %q", fake.auth[0], wantAuth)
			}
			if tt.status == 0 {
				if err != nil || m.Model.Layers != 28 {
					t.Fatalf("with access: %v (layers %d)", err, m.Model.Layers)
				}
				return
			}
			var he *hub.HTTPError
			if !errors.Is(err, hfmeta.ErrGated) || !errors.As(err, &he) || he.Status != tt.status || he.URL != srv.URL+url {
				t.Fatalf("err = %v (%#v), want ErrGated with status %d for %s", err, he, tt.status, srv.URL+url)
			}
			if errors.Is(err, hfmeta.ErrNotFound) {
				t.Errorf("a gated repo is not ErrNotFound")
			}
			msg := err.Error()
			if !strings.Contains(msg, "gated or private") {
				t.Errorf("message %q does not say the repo is gated or private", msg)
			}
			if strings.Contains(msg, "SECRET") || strings.Contains(fmt.Sprintf("%+v %#v", err, he), "SECRET") {
				t.Errorf("the token leaks into the error: %q", msg)
			}
		})
	}
}

func TestHubNotFound(t *testing.T) {
	_, srv := newFakeHub(t, testdataHub())
	_, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "vramcalc-test/missing")
	var he *hub.HTTPError
	if !errors.Is(err, hfmeta.ErrNotFound) || !errors.As(err, &he) || he.Status != 404 || errors.Is(err, hfmeta.ErrGated) {
		t.Fatalf("err = %v, want ErrNotFound from a 404", err)
	}
	want := "hfmeta: fetch config vramcalc-test/missing: GET " + srv.URL + "/vramcalc-test/missing/resolve/main/config.json: 404 Not Found: not found"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestHubConfigOnly(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "vramcalc-test/config-only")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Model.Tensors) != 0 || m.Model.Type != "opt" || m.Model.Layers != 12 {
		t.Errorf("got %d tensors, type %q, %d layers; want none, opt, 12", len(m.Model.Tensors), m.Model.Type, m.Model.Layers)
	}
	if !slices.ContainsFunc(m.Warnings, func(w string) bool { return strings.Contains(w, "has no model.safetensors") }) {
		t.Errorf("warnings %q lack the no-safetensors note", m.Warnings)
	}
	if got := len(fake.requests("/")); got != 3 {
		t.Errorf("%d requests, want 3 (config, index, model.safetensors)", got)
	}
}

func TestHubBadHeaders(t *testing.T) {
	for _, tt := range []struct {
		repo     string
		want     error
		contains string
	}{
		// The 56-byte file says its header is 4096 bytes: Content-Range
		// gives the size, so no second request is sent.
		{"vramcalc-test/truncated-header", hfmeta.ErrTruncated, "length prefix says 4096 bytes, the file has 48 after it"},
		// 200,000,000 > MaxHeaderSize: refused before any allocation or request.
		{"vramcalc-test/huge-header", hfmeta.ErrHeaderTooLarge, "length prefix says 200000000 bytes, the limit is 100000000"},
	} {
		t.Run(tt.repo, func(t *testing.T) {
			fake, srv := newFakeHub(t, testdataHub())
			_, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), tt.repo)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.contains)
			}
			if !strings.HasPrefix(err.Error(), "hfmeta: fetch header "+tt.repo+" model.safetensors: ") {
				t.Errorf("err = %q lacks the repo and file", err)
			}
			if got := fake.requests("/model.safetensors "); len(got) != 1 || !strings.HasSuffix(got[0], "bytes=0-16383") {
				t.Errorf("requests %q, want one for bytes=0-16383", got)
			}
		})
	}
}

func TestHubTimeout(t *testing.T) {
	const token = "hf_timeoutSECRET789"
	fake, srv := newFakeHub(t, testdataHub())
	fake.hold = func(r *http.Request) { <-r.Context().Done() } // never answers
	for name, c := range map[string]*hub.Client{
		"client timeout": {Endpoint: srv.URL, Token: token, HTTP: &http.Client{Timeout: 100 * time.Millisecond}},
		"context":        {Endpoint: srv.URL, Token: token},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if name == "context" {
				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			}
			defer cancel()
			start := time.Now()
			_, err := c.Fetch(ctx, "Qwen/Qwen3-0.6B")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			if msg := err.Error(); !strings.Contains(msg, srv.URL+"/Qwen/Qwen3-0.6B/resolve/main/config.json") || strings.Contains(msg, "SECRET") {
				t.Errorf("err = %q, want the URL and no token", msg)
			}
		})
	}
}

func TestHubOffline(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	_, err := (&hub.Client{Endpoint: srv.URL, Offline: true}).Fetch(context.Background(), "Qwen/Qwen3-0.6B")
	if !errors.Is(err, hfmeta.ErrOffline) || len(fake.requests("/")) != 0 {
		t.Errorf("err = %v after %d requests, want ErrOffline and none", err, len(fake.requests("/")))
	}
}

// gptq70BHub returns an in-memory Hub holding a 30-shard GPTQ 70B
// checkpoint (see gptq70B) under org/gptq-70b.
func gptq70BHub() fstest.MapFS {
	fsys := fstest.MapFS{"org/gptq-70b/resolve/main/config.json": {Data: []byte(`{
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float16",
  "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64, "num_key_value_heads": 8,
  "num_hidden_layers": 80, "vocab_size": 128256, "max_position_embeddings": 8192, "tie_word_embeddings": false,
  "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true}
}`)}}
	for name, b := range fixture.Shards(fixture.GPTQ70B(), 30) {
		fsys["org/gptq-70b/resolve/main/"+name] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// hub30Shards fetches the 30-shard model once and returns the bytes the
// server wrote and the requests it served.
func hub30Shards(tb testing.TB, fake *fakeHub, srv *httptest.Server) (int64, int) {
	before, reqs := fake.bytes.Load(), len(fake.requests("/"))
	m, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "org/gptq-70b")
	if err != nil {
		tb.Fatal(err)
	}
	if n, _, _ := fixture.SumTensors(m.Model.Tensors); n != 2_403 {
		tb.Fatalf("%d tensors, want 2403", n)
	}
	return fake.bytes.Load() - before, len(fake.requests("/")) - reqs
}

// The transfer bound: a 30-shard 70B checkpoint with ~80 tensors (~9 KB of
// header) per shard costs at most 2 MB from the Hub.
func TestHub30ShardsBytes(t *testing.T) {
	fsys := gptq70BHub()
	fake, srv := newFakeHub(t, fsys)
	got, reqs := hub30Shards(t, fake, srv)
	// config + index + one 16 KiB read per shard (every header is < 16 KiB).
	var want int64 = 30 * 16 << 10
	for _, f := range []string{"config.json", "model.safetensors.index.json"} {
		want += fixture.FileSize(t, fsys, "org/gptq-70b/resolve/main/"+f)
	}
	if got != want || reqs != 32 {
		t.Errorf("transferred %d bytes in %d requests, want %d in 32", got, reqs, want)
	}
	if got > 2_000_000 {
		t.Errorf("transferred %d bytes, over the 2 MB bound", got)
	}
	t.Logf("30 shards: %d bytes in %d requests", got, reqs)
}

func BenchmarkHub30Shards(b *testing.B) {
	fake, srv := newFakeHub(b, gptq70BHub())
	var bytes int64
	var reqs, n int
	for b.Loop() {
		k, r := hub30Shards(b, fake, srv)
		bytes, reqs, n = bytes+k, reqs+r, n+1
	}
	b.ReportMetric(float64(bytes)/float64(n), "bytes/op")
	b.ReportMetric(float64(reqs)/float64(n), "requests/op")
}

// TestResolveHub: hfmeta.Client.Resolve with Fetch as its Remote reads a
// model found nowhere else from the Hub, and a 404 says where else it
// looked.
func TestResolveHub(t *testing.T) {
	fake, srv := newFakeHub(t, testdataHub())
	fake.alias = map[string]string{"vramcalc-test/llama-sharded": "meta-llama/Llama-3.1-8B-Instruct"}
	c := &hfmeta.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Remote: (&hub.Client{Endpoint: srv.URL}).Fetch}

	m, err := c.Resolve(context.Background(), "vramcalc-test/llama-sharded")
	if err != nil {
		t.Fatal(err)
	}
	if n, _, size := fixture.SumTensors(m.Model.Tensors); m.Source != "hub" || n != 291 || size != 16_060_522_496 {
		t.Errorf("Source %q, %d tensors, %d bytes; want hub, 291, 16060522496", m.Source, n, size)
	}
	// A model page URL under the endpoint stands for its repo id.
	m, err = c.Resolve(context.Background(), srv.URL+"/vramcalc-test/llama-sharded")
	if err != nil || m.Model.ID != "vramcalc-test/llama-sharded" || m.Location != srv.URL+"/vramcalc-test/llama-sharded/resolve/main" {
		t.Errorf("by URL: ID %q, Location %q, err %v", m.Model.ID, m.Location, err)
	}

	_, err = c.Resolve(context.Background(), "vramcalc-test/unknown-model")
	var he *hub.HTTPError
	if !errors.Is(err, hfmeta.ErrNotFound) || !errors.As(err, &he) || he.Status != 404 || errors.Is(err, hfmeta.ErrOffline) {
		t.Fatalf("err = %v, want a 404 ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), `(also: no directory "vramcalc-test/unknown-model", not in the HF cache`) {
		t.Errorf("err = %q does not say where else it looked", err)
	}
}

// The token goes into the Authorization header and nowhere else: not into
// errors (whatever the failure), warnings or Meta.
func TestTokenNeverInErrors(t *testing.T) {
	const token = "hf_neverLEAKEDtoken0000"
	fake, srv := newFakeHub(t, testdataHub())
	fake.gated, fake.grant = map[string]bool{"vramcalc-test/gated-model": true}, "hf_someoneElse"
	c := &hfmeta.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Remote: (&hub.Client{Endpoint: srv.URL, Token: token}).Fetch}
	var failures int
	for _, ref := range []string{"vramcalc-test/gated-model", "vramcalc-test/unknown-model", "vramcalc-test/truncated-header",
		"vramcalc-test/huge-header", "./missing", "bad//ref"} {
		m, err := c.Resolve(context.Background(), ref)
		if err != nil {
			failures++
		}
		if s := fmt.Sprintf("%v %+v %#v", err, err, m); strings.Contains(s, "LEAKED") {
			t.Errorf("%s: token in %q", ref, s)
		}
	}
	if failures != 6 {
		t.Errorf("%d failures, want 6", failures)
	}
	m, err := c.Resolve(context.Background(), "vramcalc-test/config-only")
	if err != nil || strings.Contains(fmt.Sprintf("%#v", m), "LEAKED") {
		t.Errorf("err %v, or token in Meta", err)
	}
	if got := fake.auth[len(fake.auth)-1]; got != "Bearer "+token {
		t.Errorf("Authorization %q, want the token", got)
	}
	// Without a token no Authorization header is sent at all.
	fake.auth = nil
	if _, err := (&hub.Client{Endpoint: srv.URL}).Fetch(context.Background(), "vramcalc-test/config-only"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fake.auth, []string{"", "", ""}) {
		t.Errorf("Authorization headers %q, want none", fake.auth)
	}
}

// TestTensorsFromHub pins Model.TensorsFrom for the Hub (hfmeta's
// TestTensorsFromPerSource has the other sources): safetensors headers,
// and no label when the repo has none.
func TestTensorsFromHub(t *testing.T) {
	_, srv := newFakeHub(t, testdataHub())
	c := &hub.Client{Endpoint: srv.URL}
	for repo, want := range map[string]struct {
		groups int
		from   string
	}{
		"Qwen/Qwen3-0.6B":           {14, estimate.WeightsFromSafetensors},
		"vramcalc-test/config-only": {0, ""},
	} {
		m, err := c.Fetch(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		if m.Source != hfmeta.SourceHub || len(m.Model.Tensors) != want.groups || m.Model.TensorsFrom != want.from {
			t.Errorf("%s: Source %q, %d tensor groups, TensorsFrom %q; want hub, %d, %q",
				repo, m.Source, len(m.Model.Tensors), m.Model.TensorsFrom, want.groups, want.from)
		}
	}
}

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
