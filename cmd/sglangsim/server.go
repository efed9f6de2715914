package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// imageTokens is what one image part of a chat counts (the simulator's
// choice, as cmd/vllmsim's).
const imageTokens = 576

// defaultMaxTokens is a completion's max_tokens when not given
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/entrypoints/openai/protocol.py#L340).
const defaultMaxTokens = 16

// server is the HTTP server once the schedulers are up.
type server struct {
	*simkit.Serving
	l *launch
	// mu guards ready: the warm-up request succeeded.
	mu    sync.Mutex
	ready bool
}

var errDead = errors.New("the scheduler died")

func newServer(l *launch) *server {
	p := l.plan
	s := &server{l: l}
	api := &simkit.API{ModelName: l.args.ServedName, OwnedBy: "sglang", MaxModelLen: p.ContextLen, Vocab: l.model.Vocab,
		ImageTokens: imageTokens, Limit: s.limit, Error: writeError}
	s.Serving = simkit.NewServing(simkit.SchedConfig{NumBlocks: p.Tokens / p.PageSize, BlockSize: p.PageSize, MaxRunning: p.MaxRunning, StepTokens: p.Chunk, StepDelay: l.Env.TokenDelay},
		l.GPUs, p.TP, l.Env.LeakPerRequest, s.schedulerDied, api)
	return s
}

// schedulerDied is a runtime CUDA OOM in the scheduler: its traceback and
// SIGQUIT, then the parent kills the process tree.
func (s *server) schedulerDied(oom simkit.TorchOOM) {
	s.l.log.print(s.l.prefix(0), "Scheduler hit an exception: "+pyTraceback("torch.OutOfMemoryError: "+oom.Message()))
	s.l.log.print("", "Received sigquit from a child process. It usually means the child failed.")
	s.Kill(errDead)
	s.Stop()
}

// limit is TokenizerManager's length checks
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/managers/tokenizer_manager.py#L1206-L1247).
func (s *server) limit(chat bool, prompt int, maxTokens *int) (int, int, string) {
	ctx := s.l.plan.ContextLen
	if prompt >= ctx {
		return 0, http.StatusBadRequest, fmt.Sprintf("The input (%d tokens) is longer than the model's context length (%d tokens).", prompt, ctx)
	}
	n := ctx - prompt
	switch {
	case maxTokens != nil:
		n = *maxTokens
	case !chat:
		n = defaultMaxTokens
	}
	if prompt+n > ctx {
		return 0, http.StatusBadRequest, fmt.Sprintf("Requested token count exceeds the model's maximum context length of %d tokens. You requested a total of %d tokens: %d tokens from the input messages and %d tokens for the completion. Please reduce the number of tokens in the input messages or the completion to fit within the limit.", ctx, prompt+n, prompt, n)
	}
	if n < 1 {
		return 0, http.StatusBadRequest, "max_tokens must be positive"
	}
	return n, 0, ""
}

// writeError is SGLang's ErrorResponse.
func writeError(w http.ResponseWriter, status int, msg string) {
	typ := map[int]string{400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError", 503: "ServiceUnavailableError"}[status]
	simkit.WriteJSON(w, status, map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": status})
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	health := func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		ok := s.ready
		s.mu.Unlock()
		ok = ok && s.Alive() == nil
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /health_generate", health)
	mux.HandleFunc("GET /server_info", s.serverInfo)
	mux.HandleFunc("GET /get_server_info", s.serverInfo)
	mux.HandleFunc("POST /v1/tokenize", s.tokenize)
	mux.HandleFunc("POST /tokenize", s.tokenize)
	if s.l.args.EnableMetrics {
		mux.HandleFunc("GET /metrics", s.metrics)
	}
	mux.Handle("GET /sim/gpus", s.l.GPUs)
	s.API.Register(mux)
	return mux
}

// serverInfo is GET /server_info: the resolved server arguments, the
// scheduler's handshake and its memory usage
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/entrypoints/http_server.py#L786-L827).
func (s *server) serverInfo(w http.ResponseWriter, _ *http.Request) {
	a, p := s.l.args, s.l.plan
	reqLen := min(p.ContextLen-1, p.Tokens-1)
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"model_path": a.ModelPath, "tp_size": a.TP, "context_length": a.ContextLength, "mem_fraction_static": p.MFS,
		"chunked_prefill_size": p.Chunk, "max_running_requests": p.MaxRunning, "max_total_tokens": nilIfZero(a.MaxTotalTokens),
		"page_size": p.PageSize, "kv_cache_dtype": a.KVDType, "status": "ready", "max_total_num_tokens": p.Tokens,
		"max_req_input_len": reqLen - 5, "version": version,
		"internal_states": []map[string]any{{"memory_usage": map[string]any{"weight": gb(p.Weights), "kvcache": gb(2 * p.KBytes), "token_capacity": p.Tokens, "graph": gb(p.Graphs)}, "effective_max_running_requests_per_dp": p.MaxRunning}},
	})
}

func nilIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// tokenize is POST /v1/tokenize: {prompt} → {tokens, count, max_model_len}
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/entrypoints/openai/protocol.py#L1377-L1419).
func (s *server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt           *string `json:"prompt"`
		AddSpecialTokens *bool   `json:"add_special_tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Prompt == nil {
		writeError(w, http.StatusBadRequest, "exactly one of prompt or messages must be given as a string")
		return
	}
	tokens := simkit.Tokenize(*req.Prompt, s.l.model.Vocab)
	if req.AddSpecialTokens != nil && !*req.AddSpecialTokens {
		tokens = tokens[1:]
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"tokens": tokens, "count": len(tokens), "max_model_len": s.l.plan.ContextLen})
}

// metrics is GET /metrics (with --enable-metrics): the scheduler's gauges
// with its labels (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/observability/metrics_collector.py#L268-L313).
func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	st := s.Sched.Stats()
	labels := fmt.Sprintf(`engine_type="unified",model_name="%s",moe_ep_rank="0",pp_rank="0",tp_rank="0"`, s.l.args.ServedName)
	var b strings.Builder
	metric := func(name, typ string, v float64) {
		base := strings.TrimSuffix(name, "_total")
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %s\n", base, base, base, typ, name, labels, simkit.PyFloat(v))
	}
	metric("sglang:max_total_num_tokens", "gauge", float64(s.l.plan.Tokens))
	metric("sglang:num_running_reqs", "gauge", float64(st.Running))
	metric("sglang:num_queue_reqs", "gauge", float64(st.Waiting))
	metric("sglang:token_usage", "gauge", float64(st.UsedBlocks)/float64(max(st.NumBlocks, 1)))
	metric("sglang:num_retracted_requests_total", "counter", float64(st.Preemptions))
	metric("sglang:prompt_tokens_total", "counter", float64(st.PromptTokens))
	metric("sglang:generation_tokens_total", "counter", float64(st.GenerationTokens))
	metric("sglang:context_len", "gauge", float64(s.l.plan.ContextLen))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}

// serve opens the port after the schedulers are up, warms up, prints the
// readiness line, and serves until a signal or the scheduler's death.
func (l *launch) serve() int {
	s := newServer(l)
	ln, err := l.listen("tcp", net.JoinHostPort(l.args.Host, strconv.Itoa(l.args.Port)))
	if err != nil {
		l.log.raw(pyTraceback("OSError: " + err.Error()))
		return exitError
	}
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	go s.Sched.Run(ctx)
	l.log.raw(fmt.Sprintf("INFO:     Started server process [%d]", 1))
	l.log.raw("INFO:     Waiting for application startup.")
	l.log.raw("INFO:     Application startup complete.")
	l.log.raw(fmt.Sprintf("INFO:     Uvicorn running on http://%s (Press CTRL+C to quit)", net.JoinHostPort(l.args.Host, strconv.Itoa(l.args.Port))))
	served := make(chan int, 1)
	go func() {
		died, err := simkit.Serve(l.ctx, ln, s.routes(), s.Die)
		switch {
		case died:
			served <- exitKillTree
		case err != nil:
			served <- exitError
		default:
			served <- exitOK
		}
	}()
	if code, ok := l.warmUp(s); !ok {
		return code
	}
	code := <-served
	l.SetRanks(func(int) int64 { return 0 })
	return code
}

// warmUp is the warm-up request; a prefill chunk that does not fit next to
// the static memory fails it, and the warm-up thread kills the tree
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/entrypoints/http_server.py#L2348-L2351).
func (l *launch) warmUp(s *server) (int, bool) {
	simkit.Sleep(l.ctx, l.Env.StartupDelay/3)
	if l.plan.Fail == failWarmupOOM {
		l.GPUs.Set(0, l.plan.OOM.InUse)
		l.log.print("", "Initialization failed. warmup error: "+pyTraceback("torch.OutOfMemoryError: "+l.plan.OOM.Message()))
		l.SetRanks(func(int) int64 { return 0 })
		return exitKillTree, false
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	l.log.print("", "The server is fired up and ready to roll!")
	if l.serving != nil {
		l.serving(s)
	}
	return exitOK, true
}
