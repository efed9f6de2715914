package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// imageTokens is what one image part of a chat counts (the simulator's
// choice: a 336-pixel LLaVA image, 24·24 patches).
const imageTokens = 576

// defaultMaxTokens is a completion's max_tokens when not given
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/openai/completion/protocol.py#L57).
const defaultMaxTokens = 16

// server is the API server once the engine serves.
type server struct {
	*simkit.Serving
	l *launch
}

func newServer(l *launch) *server {
	p := l.plan
	s := &server{l: l}
	api := &simkit.API{ModelName: l.args.ServedName, OwnedBy: "vllm", MaxModelLen: p.MaxModelLen, Vocab: l.model.Vocab,
		ImageTokens: imageTokens, Limit: s.limit, Error: writeError}
	s.Serving = simkit.NewServing(simkit.SchedConfig{NumBlocks: p.NumBlocks, BlockSize: p.BlockSize, MaxRunning: p.MaxSeqs, StepTokens: p.MaxBatched, StepDelay: l.Env.TokenDelay},
		l.GPUs, p.TP, l.Env.LeakPerRequest, s.engineDied, api)
	return s
}

// errEngineDead is what requests get once the engine core died.
var errEngineDead = errors.New("EngineCore encountered an issue. See stack trace (above) for the root cause.")

// engineDied is a runtime CUDA OOM in the engine core: its traceback,
// every request fails, /health answers 503, the GPU memory is released
// with the process, and the watchdog stops the API server.
func (s *server) engineDied(oom simkit.TorchOOM) {
	log := s.l.log
	log.line(engineCore, "ERROR", "core.py", 1142, "EngineCore encountered a fatal error.")
	log.raw(engineCore, traceback([]string{`  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 1133, in run_engine_core`, `    engine_core.run_busy_loop()`}, "torch.OutOfMemoryError: "+oom.Message()))
	log.line(apiServer, "ERROR", "async_llm.py", 706, "AsyncLLM output_handler failed.")
	log.raw(apiServer, "vllm.v1.engine.exceptions.EngineDeadError: "+errEngineDead.Error())
	s.Kill(errEngineDead)
	s.l.SetRanks(func(int) int64 { return 0 })
	go func() {
		simkit.Sleep(context.Background(), s.l.watchdog)
		log.line(apiServer, "CRITICAL", "launcher.py", 166, "Engine failed, terminating server.")
		s.Stop()
	}()
}

// limit is vLLM's length check: the renderer's refusal when the prompt
// leaves no room for the requested output, then get_max_tokens
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/renderers/params.py#L411-L428,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/utils.py#L174-L210).
func (s *server) limit(chat bool, prompt int, maxTokens *int) (int, int, string) {
	mml := s.l.plan.MaxModelLen
	out := 0
	switch {
	case maxTokens != nil:
		out = *maxTokens
	case !chat:
		out = defaultMaxTokens
	}
	if maxTokens != nil && *maxTokens < 1 {
		return 0, http.StatusBadRequest, fmt.Sprintf("max_tokens must be at least 1, got %d.", *maxTokens)
	}
	if prompt > mml-out || (out == 0 && prompt >= mml) {
		return 0, http.StatusBadRequest, fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d output tokens and your prompt contains %d input tokens, for a total of %d tokens. Please reduce the length of the input prompt or the number of requested output tokens.", mml, out, prompt, prompt+out)
	}
	if out == 0 {
		return mml - prompt, 0, ""
	}
	return min(out, mml-prompt), 0, ""
}

// writeError is vLLM's ErrorResponse
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/openai/engine/protocol.py#L59-L67).
func writeError(w http.ResponseWriter, status int, msg string) {
	typ := map[int]string{400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError"}[status]
	simkit.WriteJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": status}})
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		if s.Alive() != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		simkit.WriteJSON(w, http.StatusOK, map[string]string{"version": version})
	})
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("POST /tokenize", s.tokenize)
	mux.Handle("GET /sim/gpus", s.l.GPUs)
	s.API.Register(mux)
	return mux
}

// tokenize is POST /tokenize: {prompt} or {messages} → {count,
// max_model_len, tokens, token_strs}
// (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/serve/tokenize/protocol.py#L159-L163).
func (s *server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt           *string              `json:"prompt"`
		Messages         []simkit.ChatMessage `json:"messages"`
		AddSpecialTokens *bool                `json:"add_special_tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	var tokens []int
	switch {
	case req.Prompt != nil:
		tokens = simkit.Tokenize(*req.Prompt, s.l.model.Vocab)
		if req.AddSpecialTokens != nil && !*req.AddSpecialTokens {
			tokens = tokens[1:]
		}
	case req.Messages != nil:
		text, images, err := simkit.ChatPrompt(req.Messages)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		tokens = simkit.Tokenize(text, s.l.model.Vocab)
		for range images * imageTokens {
			tokens = append(tokens, 0)
		}
	default:
		writeError(w, http.StatusBadRequest, "Either prompt or messages must be provided.")
		return
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"count": len(tokens), "max_model_len": s.l.plan.MaxModelLen, "tokens": tokens, "token_strs": nil})
}

// metrics is GET /metrics in Prometheus text: the engine's gauges and
// counters with the model_name and engine labels, and
// vllm:cache_config_info (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/metrics/loggers.py#L429-L456,
// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/v1/metrics/loggers.py#L1034-L1055).
func (s *server) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if s.l.args.DisableLogStats {
		return
	}
	st := s.Sched.Stats()
	labels := fmt.Sprintf(`engine="0",model_name="%s"`, s.l.args.ServedName)
	var b strings.Builder
	metric := func(name, typ, help string, v float64, extra string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", strings.TrimSuffix(name, "_total"), help, strings.TrimSuffix(name, "_total"), typ)
		fmt.Fprintf(&b, "%s{%s%s} %s\n", name, labels, extra, pyFloat(v))
	}
	metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", float64(st.Running), "")
	metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", float64(st.Waiting), "")
	metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", float64(st.UsedBlocks)/float64(max(st.NumBlocks, 1)), "")
	metric("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", float64(st.Preemptions), "")
	metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", float64(st.PromptTokens), "")
	metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", float64(st.GenerationTokens), "")
	metric("vllm:request_success_total", "counter", "Count of successfully processed requests.", float64(st.Finished), `,finished_reason="length"`)
	fmt.Fprintf(&b, "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{%s} 1.0\n", s.cacheLabels())
	w.Write([]byte(b.String()))
}

// cacheLabels are CacheConfig's fields as strings plus engine, sorted.
func (s *server) cacheLabels() string {
	a, p := s.l.args, s.l.plan
	kv := map[string]string{
		"block_size": strconv.Itoa(p.BlockSize), "cache_dtype": a.KVDType, "calculate_kv_scales": "False",
		"enable_prefix_caching": "True", "engine": "0", "gpu_memory_utilization": pyFloat(a.Util),
		"is_attention_free": "False", "kv_cache_memory_bytes": "None", "num_cpu_blocks": "None",
		"num_gpu_blocks": strconv.Itoa(p.NumBlocks), "num_gpu_blocks_override": "None", "sliding_window": "None",
	}
	if a.KVCacheMemoryBytes > 0 {
		kv["kv_cache_memory_bytes"] = strconv.FormatInt(a.KVCacheMemoryBytes, 10)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(`%s="%s"`, k, kv[k])
	}
	return strings.Join(parts, ",")
}

// serve runs the API server until SIGTERM/SIGINT or the engine's death.
func (l *launch) serve() int {
	s := newServer(l)
	addr := net.JoinHostPort(l.args.Host, strconv.Itoa(l.args.Port))
	ln, err := l.listen("tcp", addr)
	if err != nil {
		l.log.raw(apiServer, traceback(nil, "OSError: "+err.Error()))
		return exitError
	}
	host := l.args.Host
	if host == "" {
		host = "0.0.0.0"
	}
	l.log.info(apiServer, "api_server.py", 617, "Starting vLLM server on http://"+net.JoinHostPort(host, strconv.Itoa(l.args.Port)))
	l.log.info(apiServer, "launcher.py", 37, "Available routes are:")
	for _, r := range []string{"/health GET", "/metrics GET", "/tokenize POST", "/v1/models GET", "/v1/completions POST", "/v1/chat/completions POST", "/version GET"} {
		path, method, _ := strings.Cut(r, " ")
		l.log.info(apiServer, "launcher.py", 46, fmt.Sprintf("Route: %s, Methods: %s", path, method))
	}
	l.log.uvicorn("INFO", fmt.Sprintf("Started server process [%d]", l.log.pid))
	l.log.uvicorn("INFO", "Waiting for application startup.")
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	go s.Sched.Run(ctx)
	l.log.uvicorn("INFO", "Application startup complete.")
	if l.serving != nil {
		l.serving(s)
	}
	_, err = simkit.Serve(l.ctx, ln, s.routes(), s.Die)
	l.log.uvicorn("INFO", "Shutting down")
	l.log.uvicorn("INFO", "Waiting for application shutdown.")
	l.log.uvicorn("INFO", "Application shutdown complete.")
	l.log.uvicorn("INFO", fmt.Sprintf("Finished server process [%d]", l.log.pid))
	l.SetRanks(func(int) int64 { return 0 })
	if err != nil {
		return exitError
	}
	return exitOK
}
