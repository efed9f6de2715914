package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// logger prints lines the way TGI's processes do. The launcher uses
// tracing-subscriber's compact format (`TS  INFO span: target: msg k=v`),
// the router the full format with file and line
// (`TS  INFO text_generation_router_v3: backends/v3/src/lib.rs:137: msg`),
// and the Python shards' loguru records are re-emitted by the launcher
// under its own target. ANSI colours are left out.
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (l *logger) print(ll logLine) {
	var b strings.Builder
	b.WriteString(l.now().UTC().Format("2006-01-02T15:04:05.000000Z"))
	fmt.Fprintf(&b, " %5s ", ll.level)
	if ll.span != "" {
		b.WriteString(ll.span + ": ")
	}
	b.WriteString(ll.target + ": ")
	if ll.file != "" {
		fmt.Fprintf(&b, "%s:%d: ", ll.file, ll.line)
	}
	b.WriteString(ll.msg)
	if ll.fields != "" {
		b.WriteString(" " + ll.fields)
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, b.String())
}

func (l *logger) all(lines []logLine) {
	for _, ll := range lines {
		l.print(ll)
	}
}

func (l *logger) info(msg string) { l.print(info(msg)) }
func (l *logger) warn(msg string) { l.print(warn(msg)) }
func (l *logger) error(msg string) {
	l.print(logLine{level: "ERROR", target: launcherTarget, msg: msg})
}

// shard logs a shard-manager line for one rank.
func (l *logger) shard(level string, rank int, msg string) {
	l.print(logLine{level: level, span: "shard-manager", target: launcherTarget, msg: msg, fields: fmt.Sprintf("rank=%d", rank)})
}

// router logs a line of the text-generation-router-v3 process.
func (l *logger) router(level, target, file string, line int, msg string) {
	l.print(logLine{level: level, target: target, file: file, line: line, msg: msg})
}

// raw writes a line as is (the router's `Error: …` on its stderr, which
// the launcher copies to its stdout).
func (l *logger) raw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, s+"\n")
}

// Python tracebacks the shards print, shaped like TGI v3.3.7's
// (file and line numbers from that tag).

const (
	pySrv  = "/usr/src/server/text_generation_server"
	pyVenv = "/usr/src/.venv/lib/python3.11/site-packages"
)

func grpcPrologue() string {
	return `Traceback (most recent call last):
  File "/usr/src/.venv/bin/text-generation-server", line 10, in <module>
    sys.exit(app())
  File "` + pySrv + `/cli.py", line 119, in serve
    server.serve(
  File "` + pySrv + `/server.py", line 313, in serve
    asyncio.run(
  File "/root/.local/share/uv/python/cpython-3.11.11-linux-x86_64-gnu/lib/python3.11/asyncio/base_events.py", line 641, in run_until_complete
    self.run_forever()
  File "` + pyVenv + `/grpc_interceptor/server.py", line 165, in invoke_intercept_method
    return await self.intercept(
> File "` + pySrv + `/interceptor.py", line 24, in intercept
    return await response
  File "` + pySrv + `/server.py", line 142, in Warmup
    self.model.warmup(batch, max_input_tokens, max_total_tokens)
`
}

// prefillOOMTraceback is what "Method Warmup encountered an error." carries
// when the warm-up prefill runs out of memory
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1548-L1553).
func prefillOOMTraceback(oom string, msg string) string {
	return `Traceback (most recent call last):
  File "` + pySrv + `/models/flash_causal_lm.py", line 1548, in warmup
    _, _batch, _ = self.generate_token(batch)
  File "` + pyVenv + `/torch/utils/_contextlib.py", line 116, in decorate_context
    return func(*args, **kwargs)
  File "` + pySrv + `/models/flash_causal_lm.py", line 1931, in generate_token
    out, speculative_logits = self.forward(batch, adapter_data)
  File "` + pySrv + `/models/custom_modeling/flash_llama_modeling.py", line 402, in forward
    gate_up_states = self.gate_up_proj(hidden_states, adapter_data)
torch.OutOfMemoryError: ` + oom + `

The above exception was the direct cause of the following exception:

` + grpcPrologue() + `  File "` + pySrv + `/models/flash_causal_lm.py", line 1550, in warmup
    raise RuntimeError(
` + msg
}

// kvAllocTraceback is the warm-up KV allocation failing before num_tokens
// is bound (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1524-L1551).
func kvAllocTraceback(oom string, msg string) string {
	return `Traceback (most recent call last):
  File "` + pySrv + `/models/flash_causal_lm.py", line 1524, in warmup
    self.init_kv_cache(
  File "` + pySrv + `/models/flash_causal_lm.py", line 1358, in init_kv_cache
    KVCache(
  File "` + pySrv + `/layers/attention/kv_cache.py", line 96, in __init__
    torch.empty(
torch.OutOfMemoryError: ` + oom + `

During handling of the above exception, another exception occurred:

` + grpcPrologue() + `  File "` + pySrv + `/models/flash_causal_lm.py", line 1551, in warmup
    f"Not enough memory to handle {num_tokens} prefill tokens. "
` + msg
}

// initTraceback is get_model_with_lora_adapters failing
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/server.py#L266-L282).
func initTraceback(msg string) string {
	return `Traceback (most recent call last):
  File "/usr/src/.venv/bin/text-generation-server", line 10, in <module>
    sys.exit(app())
  File "` + pySrv + `/cli.py", line 119, in serve
    server.serve(
  File "` + pySrv + `/server.py", line 313, in serve
    asyncio.run(
> File "` + pySrv + `/server.py", line 266, in serve_inner
    model = get_model_with_lora_adapters(
  File "` + pySrv + `/models/__init__.py", line 1622, in get_model_with_lora_adapters
    model = get_model(
  File "` + pySrv + `/models/flash_causal_lm.py", line 1263, in __init__
    model = model_class(prefix, config, weights)
` + msg
}

// graphOOMTraceback is a failed CUDA graph capture
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/flash_causal_lm.py#L1665-L1676).
func graphOOMTraceback(oom string) string {
	return `Traceback (most recent call last):
  File "` + pySrv + `/models/flash_causal_lm.py", line 1665, in warmup
    self.cuda_graph_warmup(bs, max_total_tokens, max_total_tokens)
  File "` + pySrv + `/models/flash_causal_lm.py", line 1440, in cuda_graph_warmup
    with torch.cuda.graph(graph, pool=MEM_POOL):
torch.OutOfMemoryError: ` + oom
}
