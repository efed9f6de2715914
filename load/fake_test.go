package load

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fakeEngine serves one engine's tokenizer, streaming generation,
// /metrics, /health and the simulators' /sim/gpus, with planted delays,
// memory and a planted death.
type fakeEngine struct {
	engine string
	// ttft is the delay before request i's first token (i in arrival
	// order, from 0); itl the delay before each later token.
	ttft func(i int) time.Duration
	itl  time.Duration
	// used is the GPU memory reported when n requests were served; total
	// the card's.
	used  func(served int) uint64
	total uint64
	// dieAfter > 0: the request after that many served sends one token,
	// then the server is gone (down) and the stream is cut.
	dieAfter int
	down     atomic.Bool
	// sickAfter > 0: once that many were served the server still answers,
	// but generations get 500 and /health 503 (an engine whose core died).
	sickAfter int

	mu        sync.Mutex
	arrivals  int
	served    int
	running   int
	inputs    []int // the prompt tokens of each generation request
	outputs   []int // the tokens each asked for
	tokenized int   // tokenizer calls
}

// countWords is the fake tokenizers' rule: vLLM one token a word plus
// BOS, SGLang one and a half a word (w + ⌊w/2⌋ + 1), TGI one a word.
func (f *fakeEngine) countWords(text string) int {
	w := len(strings.Fields(text))
	switch f.engine {
	case EngineVLLM:
		return w + 1
	case EngineSGLang:
		return w + w/2 + 1
	}
	return w
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/tokenize", "/v1/tokenize":
		f.tokenize(w, r)
	case "/v1/completions", "/generate_stream":
		if f.sick() {
			http.Error(w, `{"error":"EngineDeadError"}`, http.StatusInternalServerError)
			return
		}
		f.generate(w, r)
	case "/metrics":
		f.metrics(w)
	case "/health":
		if f.sick() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	case "/sim/gpus":
		f.mu.Lock()
		used := f.used(f.served)
		f.mu.Unlock()
		fmt.Fprintf(w, `[{"index":0,"uuid":"sim-0","name":"NVIDIA L4","total":%d,"used":%d,"free":%d}]`, f.total, used, f.total-used)
	default:
		http.NotFound(w, r)
	}
}

// sick reports a server past sickAfter served requests.
func (f *fakeEngine) sick() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sickAfter > 0 && f.served >= f.sickAfter
}

func (f *fakeEngine) tokenize(w http.ResponseWriter, r *http.Request) {
	var body struct{ Prompt, Inputs string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.tokenized++
	f.mu.Unlock()
	if f.engine == EngineTGI {
		n := f.countWords(body.Inputs)
		toks := make([]map[string]any, n)
		for i := range toks {
			toks[i] = map[string]any{"id": 1, "text": "hello", "start": 0, "stop": 5}
		}
		_ = json.NewEncoder(w).Encode(toks)
		return
	}
	fmt.Fprintf(w, `{"count":%d,"tokens":[],"max_model_len":8192}`, f.countWords(body.Prompt))
}

// generate streams the tokens asked for: OpenAI chunks (the last two
// tokens in one chunk, so that only usage gives the exact count) or TGI
// events with details on the last.
func (f *fakeEngine) generate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Prompt, Inputs string
		MaxTokens      int `json:"max_tokens"`
		Parameters     struct {
			MaxNewTokens int `json:"max_new_tokens"`
		}
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	out := max(body.MaxTokens, body.Parameters.MaxNewTokens)
	f.mu.Lock()
	i := f.arrivals
	f.arrivals++
	f.running++
	f.inputs = append(f.inputs, f.countWords(body.Prompt+body.Inputs))
	f.outputs = append(f.outputs, out)
	dies := f.dieAfter > 0 && i == f.dieAfter
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	w.Header().Set("Content-Type", "text/event-stream")
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-r.Context().Done():
			return false
		}
	}
	write := func(payload string) bool {
		_, err := fmt.Fprintf(w, "data: %s\n\n", payload)
		w.(http.Flusher).Flush()
		return err == nil
	}
	for k := range out {
		d := f.itl
		if k == 0 {
			d = f.ttft(i)
		}
		if !wait(d) {
			return
		}
		if f.engine != EngineTGI && k == out-2 {
			continue // the next chunk carries this token too
		}
		if !write(f.chunk(k, out)) {
			return
		}
		if dies {
			f.down.Store(true)
			panic(http.ErrAbortHandler)
		}
	}
	if f.engine != EngineTGI {
		write(fmt.Sprintf(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,"total_tokens":%d}}`, out, out+1))
		write("[DONE]")
	}
	f.mu.Lock()
	f.served++
	f.mu.Unlock()
}

func (f *fakeEngine) chunk(k, out int) string {
	if f.engine == EngineTGI {
		details := "null"
		if k == out-1 {
			details = fmt.Sprintf(`{"finish_reason":"length","generated_tokens":%d,"seed":null,"input_length":1}`, out)
		}
		return fmt.Sprintf(`{"index":%d,"token":{"id":1,"text":" hi","logprob":0,"special":false},"generated_text":null,"details":%s}`, k+1, details)
	}
	return `{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" hi","finish_reason":null}]}`
}

// metrics reports the running requests, none waiting, and a KV usage of
// running / 8.
func (f *fakeEngine) metrics(w io.Writer) {
	f.mu.Lock()
	run := f.running
	f.mu.Unlock()
	switch f.engine {
	case EngineVLLM:
		fmt.Fprintf(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\",model_name=\"m\"} %d\nvllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 0\nvllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} %g\nvllm:num_preemptions_total{engine=\"0\",model_name=\"m\"} 0\n", run, float64(run)/8)
	case EngineSGLang:
		fmt.Fprintf(w, "sglang:num_running_reqs{tp_rank=\"0\"} %d\nsglang:num_queue_reqs{tp_rank=\"0\"} 0\nsglang:token_usage{tp_rank=\"0\"} %g\n", run, float64(run)/8)
	default:
		fmt.Fprintf(w, "tgi_batch_current_size %d\ntgi_queue_size 0\ntgi_batch_current_max_tokens %d\ntgi_batch_max_total_tokens 800\n", run, run*100)
	}
}

// memTransport serves requests with the handler in memory, so that
// testing/synctest's clock drives every delay; a server that is down
// refuses connections as a dead process's port does.
type memTransport struct{ f *fakeEngine }

func (m memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if m.f.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	pr, pw := io.Pipe()
	rw := &memWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK)
			if v := recover(); v != nil {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			pw.Close()
		}()
		m.f.ServeHTTP(rw, req)
	}()
	<-rw.ready
	return &http.Response{StatusCode: rw.code, Header: rw.header, Body: pr, Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// memWriter is the handler's side of memTransport.
type memWriter struct {
	header http.Header
	pw     *io.PipeWriter
	once   sync.Once
	code   int
	ready  chan struct{}
}

func (w *memWriter) Header() http.Header { return w.header }
func (w *memWriter) WriteHeader(code int) {
	w.once.Do(func() { w.code = code; close(w.ready) })
}
func (w *memWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}
func (w *memWriter) Flush() {}
