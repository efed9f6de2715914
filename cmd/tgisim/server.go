package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// simVersion is what GET /info reports as version.
const simVersion = "3.3.7-sim"

// defaultGenerationLength is the router's chunk of new tokens
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/validation.rs#L25 DEFAULT_GENERATION_LENGTH).
const defaultGenerationLength = 1024

// kvScheduler admits requests while the KV budget allows, first come first
// served, as TGI's v3 queue does with its block allocator
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/queue.rs#L290-L320):
// a request needs ⌈(input + max_new_tokens + speculate − 1)/BLOCK_SIZE⌉
// blocks, block 0 is kept for health checks, and the head of the queue
// blocks those behind it. Prefix caching does not share blocks here.
type kvScheduler struct {
	mu           sync.Mutex
	blockSize    int64
	totalBlocks  int64 // usable blocks: num_blocks − 1
	free         int64
	maxBatchSize int // 0: no limit
	running      int
	// batchTokens is Σ input + max_new_tokens of the running requests, the
	// batch's max_tokens that tgi_batch_current_max_tokens reports
	// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/queue.rs#L495,
	// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/backend.rs#L171).
	batchTokens int64
	queue       []*kvWaiter
}

type kvWaiter struct {
	blocks, tokens int64
	ready          chan struct{}
}

func newKVScheduler(numBlocks, blockSize int64, maxBatchSize int) *kvScheduler {
	usable := max(numBlocks-1, 0)
	return &kvScheduler{blockSize: blockSize, totalBlocks: usable, free: usable, maxBatchSize: maxBatchSize}
}

func (s *kvScheduler) fits(blocks int64) bool {
	return blocks <= s.free && (s.maxBatchSize == 0 || s.running < s.maxBatchSize)
}

// acquire waits until a request of input + newTokens fits, mapping
// input + newTokens + speculate − 1 KV tokens, and returns the release function.
func (s *kvScheduler) acquire(ctx context.Context, input, newTokens, speculate int64) (func(), error) {
	blocks := simkit.CeilDiv(max(input+newTokens+speculate-1, 1), s.blockSize)
	tokens := input + newTokens
	var once sync.Once
	release := func() { once.Do(func() { s.release(blocks, tokens) }) }
	s.mu.Lock()
	if len(s.queue) == 0 && s.fits(blocks) {
		s.grant(blocks, tokens)
		s.mu.Unlock()
		return release, nil
	}
	w := &kvWaiter{blocks: blocks, tokens: tokens, ready: make(chan struct{})}
	s.queue = append(s.queue, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return release, nil
	case <-ctx.Done():
		s.mu.Lock()
		for i, q := range s.queue {
			if q == w {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				s.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		s.mu.Unlock()
		// Granted while giving up: hand the blocks back.
		release()
		return nil, ctx.Err()
	}
}

func (s *kvScheduler) grant(blocks, tokens int64) {
	s.free -= blocks
	s.batchTokens += tokens
	s.running++
}

func (s *kvScheduler) release(blocks, tokens int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free += blocks
	s.batchTokens -= tokens
	s.running--
	for len(s.queue) > 0 && s.fits(s.queue[0].blocks) {
		w := s.queue[0]
		s.queue = s.queue[1:]
		s.grant(w.blocks, w.tokens)
		close(w.ready)
	}
}

// stats returns the batch's max tokens, the KV blocks held, how many
// requests run and how many wait.
func (s *kvScheduler) stats() (batchTokens, blocks int64, running, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batchTokens, s.totalBlocks - s.free, s.running, len(s.queue)
}

// token is one token of the simulator's tokenizer: every maximal run of
// non-space characters is a token; start and stop are byte offsets.
type token struct {
	ID    uint32 `json:"id"`
	Text  string `json:"text"`
	Start int    `json:"start"`
	Stop  int    `json:"stop"`
}

// tokenize is the simulator's deterministic tokenizer: one token per
// whitespace-separated word, id = FNV-1a(word) mod vocab. No special
// tokens are added.
func tokenize(s string, vocab int) []token {
	var out []token
	start := -1
	emit := func(end int) {
		h := fnv.New32a()
		h.Write([]byte(s[start:end]))
		id := h.Sum32()
		if vocab > 0 {
			id %= uint32(vocab)
		}
		out = append(out, token{ID: id, Text: s[start:end], Start: start, Stop: end})
		start = -1
	}
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				emit(i)
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		emit(len(s))
	}
	return out
}

// generatedWords is the simulator's output vocabulary; token k of a
// generation is " " + generatedWords[k % len].
var generatedWords = []string{"the", "simulated", "model", "writes", "one", "word", "per", "token", "and", "never", "stops", "early"}

// server is the router's HTTP API after warm-up.
type server struct {
	info        infoResponse
	vocab       int
	maxInput    int
	maxTotal    int
	maxStop     int
	maxTopN     int
	maxBestOf   int
	speculate   int
	mbt         int64
	sched       *kvScheduler
	sem         chan struct{}
	tokenDelay  time.Duration
	payload     int64
	gpus        *simkit.GPUs
	requests    atomic.Int64
	success     atomic.Int64
	failures    sync.Map // error_type → *atomic.Int64
	generatedTk atomic.Int64
}

// infoResponse is GET /info (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/lib.rs#L261-L298).
type infoResponse struct {
	ModelID               string  `json:"model_id"`
	ModelSHA              *string `json:"model_sha"`
	ModelPipelineTag      *string `json:"model_pipeline_tag"`
	MaxConcurrentRequests int     `json:"max_concurrent_requests"`
	MaxBestOf             int     `json:"max_best_of"`
	MaxStopSequences      int     `json:"max_stop_sequences"`
	MaxInputTokens        int     `json:"max_input_tokens"`
	MaxTotalTokens        int     `json:"max_total_tokens"`
	ValidationWorkers     int     `json:"validation_workers"`
	MaxClientBatchSize    int     `json:"max_client_batch_size"`
	Router                string  `json:"router"`
	Version               string  `json:"version"`
	SHA                   *string `json:"sha"`
	DockerLabel           *string `json:"docker_label"`
}

func newServer(a *Args, m *simkit.Model, st *startup, gpus *simkit.GPUs, tokenDelay time.Duration) *server {
	tag := "text-generation"
	s := &server{
		info: infoResponse{
			ModelID: a.ModelID, ModelPipelineTag: &tag,
			MaxConcurrentRequests: a.MaxConcurrentRequests, MaxBestOf: a.MaxBestOf, MaxStopSequences: a.MaxStopSequences,
			MaxInputTokens: st.MaxInputTokens, MaxTotalTokens: st.MaxTotalTokens,
			ValidationWorkers: a.ValidationWorkers, MaxClientBatchSize: a.MaxClientBatchSize,
			Router: "text-generation-router", Version: simVersion,
		},
		vocab:      m.Vocab,
		maxInput:   st.MaxInputTokens,
		maxTotal:   st.MaxTotalTokens,
		maxStop:    a.MaxStopSequences,
		maxTopN:    a.MaxTopNTokens,
		maxBestOf:  a.MaxBestOf,
		mbt:        st.MaxBatchTotalTokens,
		sem:        make(chan struct{}, max(a.MaxConcurrentRequests, 1)),
		tokenDelay: tokenDelay,
		payload:    int64(a.PayloadLimit),
		gpus:       gpus,
	}
	if a.Speculate != nil {
		s.speculate = *a.Speculate
	}
	mbs := 0
	if a.MaxBatchSize != nil {
		mbs = *a.MaxBatchSize
	}
	s.sched = newKVScheduler(st.NumBlocks, int64(st.Plan.BlockSize), mbs)
	return s
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) { simkit.WriteJSON(w, http.StatusOK, s.info) })
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("POST /tokenize", s.tokenizeHandler)
	mux.HandleFunc("POST /generate", s.generate)
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.Handle("GET /sim/gpus", s.gpus)
	return mux
}

// apiError is the router's ErrorResponse with its status.
type apiError struct {
	status int
	Msg    string `json:"error"`
	Type   string `json:"error_type"`
}

func (e *apiError) Error() string { return e.Msg }

// validationError is InferError::ValidationError: 422, "Input validation error: …".
func validationError(format string, a ...any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, Msg: "Input validation error: " + fmt.Sprintf(format, a...), Type: "validation"}
}

func (s *server) fail(w http.ResponseWriter, e *apiError) {
	v, _ := s.failures.LoadOrStore(e.Type, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	simkit.WriteJSON(w, e.status, e)
}

// decode reads a JSON body within the payload limit; errors are axum's
// rejections (422 for bad data, 400 for bad syntax, 413 for too large).
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.payload))
	if err != nil {
		http.Error(w, "Failed to buffer the request body: length limit exceeded", http.StatusRequestEntityTooLarge)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			http.Error(w, "Failed to parse the request body as JSON: "+err.Error(), http.StatusBadRequest)
			return false
		}
		http.Error(w, "Failed to deserialize the JSON body into the target type: "+err.Error(), http.StatusUnprocessableEntity)
		return false
	}
	return true
}

// generateParameters are the GenerateParameters the simulator acts on;
// other fields are accepted and ignored.
type generateParameters struct {
	MaxNewTokens      *uint32  `json:"max_new_tokens"`
	Details           bool     `json:"details"`
	Stop              []string `json:"stop"`
	Truncate          *int     `json:"truncate"`
	TopNTokens        *uint32  `json:"top_n_tokens"`
	Temperature       *float64 `json:"temperature"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	TopK              *int     `json:"top_k"`
	TopP              *float64 `json:"top_p"`
	BestOf            *int     `json:"best_of"`
	Seed              *uint64  `json:"seed"`
}

type generateRequest struct {
	Inputs     string             `json:"inputs"`
	Parameters generateParameters `json:"parameters"`
}

// validRequest is a request the router accepted.
type validRequest struct {
	input         int    // input tokens (after truncation)
	chunk         int    // max_new_tokens of this round: min(max_new_tokens, 1024)
	totalNewToken uint32 // max_new_tokens asked for (or T − input)
}

// validate follows Validation::validate and validate_input
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/validation.rs#L132-L345),
// in the same order.
func (s *server) validate(inputs string, p generateParameters) (validRequest, *apiError) {
	var v validRequest
	if p.BestOf != nil && (*p.BestOf == 0 || *p.BestOf > s.maxBestOf) {
		return v, validationError("`best_of` must be > 0 and <= %d. Given: %d", s.maxBestOf, *p.BestOf)
	}
	if p.Temperature != nil && *p.Temperature <= 0 {
		return v, validationError("`temperature` must be strictly positive")
	}
	if p.RepetitionPenalty != nil && *p.RepetitionPenalty <= 0 {
		return v, validationError("`repetition_penalty` must be strictly positive")
	}
	if p.TopP != nil && (*p.TopP <= 0 || *p.TopP >= 1) {
		return v, validationError("`top_p` must be > 0.0 and < 1.0")
	}
	if p.TopK != nil && *p.TopK <= 0 {
		return v, validationError("`top_k` must be strictly positive")
	}
	if p.MaxNewTokens != nil && *p.MaxNewTokens == 0 {
		return v, validationError("`max_new_tokens` must be strictly positive")
	}
	if len(p.Stop) > s.maxStop {
		return v, validationError("`stop` supports up to %d stop sequences. Given: %d", s.maxStop, len(p.Stop))
	}
	if p.TopNTokens != nil && int(*p.TopNTokens) > s.maxTopN {
		return v, validationError("`top_n_tokens` must be >= 0 and <= %d. Given: %d", s.maxTopN, *p.TopNTokens)
	}
	if inputs == "" {
		return v, validationError("`inputs` cannot be empty")
	}
	if p.Truncate != nil && (*p.Truncate <= 0 || *p.Truncate > s.maxInput) {
		return v, validationError("`truncate` must be strictly positive and less than %d. Given: %d", s.maxInput, *p.Truncate)
	}
	v.input = len(tokenize(inputs, s.vocab))
	if p.Truncate != nil {
		v.input = min(v.input, *p.Truncate)
	}
	if p.MaxNewTokens != nil {
		v.totalNewToken = *p.MaxNewTokens
		v.chunk = int(min(*p.MaxNewTokens, defaultGenerationLength))
	} else {
		v.totalNewToken = uint32(max(s.maxTotal-v.input, 0))
		v.chunk = int(min(v.totalNewToken, defaultGenerationLength))
	}
	if v.input+v.chunk > s.maxTotal {
		return v, validationError("`inputs` tokens + `max_new_tokens` must be <= %d. Given: %d `inputs` tokens and %d `max_new_tokens`", s.maxTotal, v.input, v.chunk)
	}
	if v.input > s.maxInput {
		return v, validationError("`inputs` must have less than %d tokens. Given: %d", s.maxInput, v.input)
	}
	return v, nil
}

// generation is the outcome of one request.
type generation struct {
	text         string
	tokens       []genToken
	finishReason string
	input        int
}

type genToken struct {
	ID      uint32  `json:"id"`
	Text    string  `json:"text"`
	Logprob float64 `json:"logprob"`
	Special bool    `json:"special"`
}

// run generates like Infer::generate_stream
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/router/src/infer/mod.rs#L99-L190):
// one scheduled round of up to 1024 tokens; while it ends by length short
// of max_new_tokens, the inputs grow by the text and the request is
// re-validated and re-queued with the same max_new_tokens.
func (s *server) run(ctx context.Context, inputs string, p generateParameters) (*generation, *apiError) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	default:
		return nil, &apiError{status: http.StatusTooManyRequests, Msg: "Model is overloaded", Type: "overloaded"}
	}
	s.requests.Add(1)
	v, verr := s.validate(inputs, p)
	if verr != nil {
		return nil, verr
	}
	g := &generation{input: v.input}
	for {
		n, stopped, err := s.round(ctx, v, p.Stop, g)
		if err != nil {
			return nil, &apiError{status: http.StatusInternalServerError, Msg: "Incomplete generation", Type: "incomplete_generation"}
		}
		if stopped {
			g.finishReason = "stop_sequence"
			break
		}
		g.finishReason = "length"
		if n < v.chunk || uint32(len(g.tokens)) >= v.totalNewToken {
			break
		}
		next, verr := s.validate(inputs+g.text, p)
		if verr != nil {
			break
		}
		v.input, v.chunk = next.input, next.chunk
	}
	s.success.Add(1)
	return g, nil
}

// round schedules one request of v.input + v.chunk tokens, holds its KV
// blocks while it generates, and appends its tokens to g.
func (s *server) round(ctx context.Context, v validRequest, stop []string, g *generation) (int, bool, error) {
	release, err := s.sched.acquire(ctx, int64(v.input), int64(v.chunk), int64(s.speculate))
	if err != nil {
		return 0, false, err
	}
	defer release()
	n, stopped := v.chunk, false
	text := g.text
	for i := 0; i < v.chunk; i++ {
		k := len(g.tokens) + i
		text += " " + generatedWords[k%len(generatedWords)]
		for _, st := range stop {
			if st != "" && strings.Contains(text[len(g.text):], st) {
				n, stopped = i+1, true
			}
		}
		if stopped {
			break
		}
	}
	if s.tokenDelay > 0 {
		t := time.NewTimer(time.Duration(n) * s.tokenDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	for i := 0; i < n; i++ {
		k := len(g.tokens)
		w := " " + generatedWords[k%len(generatedWords)]
		h := fnv.New32a()
		h.Write([]byte(w[1:]))
		id := h.Sum32()
		if s.vocab > 0 {
			id %= uint32(s.vocab)
		}
		g.tokens = append(g.tokens, genToken{ID: id, Text: w, Logprob: -0.25})
		g.text += w
	}
	s.generatedTk.Add(int64(n))
	return n, stopped, nil
}

func (s *server) generate(w http.ResponseWriter, r *http.Request) {
	var req generateRequest
	if !s.decode(w, r, &req) {
		return
	}
	g, e := s.run(r.Context(), req.Inputs, req.Parameters)
	if e != nil {
		s.fail(w, e)
		return
	}
	w.Header().Set("x-prompt-tokens", strconv.Itoa(g.input))
	w.Header().Set("x-generated-tokens", strconv.Itoa(len(g.tokens)))
	resp := map[string]any{"generated_text": g.text}
	if req.Parameters.Details {
		resp["details"] = map[string]any{
			"finish_reason":    g.finishReason,
			"generated_tokens": len(g.tokens),
			"seed":             req.Parameters.Seed,
			"prefill":          []any{},
			"tokens":           g.tokens,
		}
	}
	simkit.WriteJSON(w, http.StatusOK, resp)
}

func (s *server) tokenizeHandler(w http.ResponseWriter, r *http.Request) {
	var req generateRequest
	if !s.decode(w, r, &req) {
		return
	}
	toks := tokenize(req.Inputs, s.vocab)
	if toks == nil {
		toks = []token{}
	}
	simkit.WriteJSON(w, http.StatusOK, toks)
}

// chatRequest is the minimal OpenAI chat request the simulator reads.
type chatRequest struct {
	Model     string        `json:"model"`
	Messages  []chatMessage `json:"messages"`
	MaxTokens *uint32       `json:"max_tokens"`
	Stop      []string      `json:"stop"`
	Stream    bool          `json:"stream"`
	Seed      *uint64       `json:"seed"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the message content, a string or an array of text parts.
func (m chatMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) == nil {
		var texts []string
		for _, p := range parts {
			if p.Type == "text" {
				texts = append(texts, p.Text)
			}
		}
		return strings.Join(texts, " ")
	}
	return ""
}

// chatPrompt is the simulator's chat template: "role: content" per message,
// then "assistant:"; so the prompt has Σ(1 + words) + 1 tokens.
func chatPrompt(msgs []chatMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%s: %s\n", m.Role, m.text())
	}
	b.WriteString("assistant:")
	return b.String()
}

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Stream {
		s.fail(w, &apiError{status: http.StatusUnprocessableEntity, Msg: "Input validation error: tgisim does not simulate streaming", Type: "validation"})
		return
	}
	g, e := s.run(r.Context(), chatPrompt(req.Messages), generateParameters{MaxNewTokens: req.MaxTokens, Stop: req.Stop, Seed: req.Seed})
	if e != nil {
		s.fail(w, e)
		return
	}
	model := req.Model
	if model == "" {
		model = s.info.ModelID
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"id":                 "",
		"object":             "chat.completion",
		"created":            time.Now().Unix(),
		"model":              model,
		"system_fingerprint": simVersion + "-native",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": strings.TrimPrefix(g.text, " ")},
			"logprobs":      nil,
			"finish_reason": g.finishReason,
		}},
		"usage": map[string]int{"prompt_tokens": g.input, "completion_tokens": len(g.tokens), "total_tokens": g.input + len(g.tokens)},
	})
}

// metrics serves the Prometheus gauges TGI exports about its KV budget and
// queue (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/lib.rs#L138,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/backend.rs,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/backends/v3/src/queue.rs).
func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	tokens, _, running, queued := s.sched.stats()
	var b strings.Builder
	gauge := func(name string, v int64) { fmt.Fprintf(&b, "# TYPE %s gauge\n%s %d\n", name, name, v) }
	counter := func(name string, v int64) { fmt.Fprintf(&b, "# TYPE %s counter\n%s %d\n", name, name, v) }
	counter("tgi_request_count", s.requests.Load())
	counter("tgi_request_success", s.success.Load())
	fmt.Fprintf(&b, "# TYPE tgi_request_failure counter\n")
	s.failures.Range(func(k, v any) bool {
		fmt.Fprintf(&b, "tgi_request_failure{err=%q} %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	counter("tgi_request_generated_tokens_total", s.generatedTk.Load())
	gauge("tgi_batch_max_total_tokens", s.mbt)
	gauge("tgi_batch_current_max_tokens", tokens)
	gauge("tgi_batch_current_size", int64(running))
	gauge("tgi_queue_size", int64(queued))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, b.String())
}
