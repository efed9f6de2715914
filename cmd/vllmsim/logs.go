package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// logger prints vLLM's log format: "(Proc pid=N) LEVEL MM-DD HH:MM:SS
// [file.py:line] message" (https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/logger.py#L22-L26,
// the process prefix https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/utils/system_utils.py#L201-L211),
// and uvicorn's "INFO:     message" lines with the API server's prefix
// (docs/ENGINE-SURFACE.md §A2).
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	pid int
}

func newLogger(w io.Writer, now func() time.Time) *logger {
	return &logger{w: w, now: now, pid: os.Getpid()}
}

const (
	apiServer  = "APIServer"
	engineCore = "EngineCore"
)

func (l *logger) line(proc, level, file string, lineno int, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "(%s pid=%d) %s %s [%s:%d] %s\n", proc, l.pid, level, l.now().Format("01-02 15:04:05"), file, lineno, msg)
}

func (l *logger) info(proc, file string, lineno int, msg string) {
	l.line(proc, "INFO", file, lineno, msg)
}

// uvicorn is a line of uvicorn's default formatter: the level, a colon,
// padding to 9 columns.
func (l *logger) uvicorn(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "(%s pid=%d) %-9s %s\n", apiServer, l.pid, level+":", msg)
}

// raw prints lines with a process prefix and nothing else (tracebacks).
func (l *logger) raw(proc, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range strings.Split(text, "\n") {
		fmt.Fprintf(l.w, "(%s pid=%d) %s\n", proc, l.pid, s)
	}
}

// traceback is a Python traceback ending in exc.
func traceback(frames []string, exc string) string {
	return "Traceback (most recent call last):\n" + strings.Join(frames, "\n") + "\n" + exc
}

// engineFrames are where the engine core's start raises.
var engineFrames = []string{
	`  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 1128, in run_engine_core`,
	`    engine_core = EngineCoreProc(*args, engine_index=dp_rank, **kwargs)`,
	`  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 258, in _initialize_kv_caches`,
	`    kv_cache_configs = get_kv_cache_configs(self.vllm_config, kv_cache_specs, available_gpu_memory)`,
}

// nonDefault is the "non-default args" dict of the flags given.
func nonDefault(a *Args) string {
	names := append([]string(nil), a.set...)
	sort.Strings(names)
	parts := []string{fmt.Sprintf("'model_tag': '%s'", a.Model)}
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("'%s': ...", strings.ReplaceAll(strings.TrimLeft(n, "-"), "-", "_")))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
