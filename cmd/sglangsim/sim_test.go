package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func localListen(network, addr string) (net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	return net.Listen(network, net.JoinHostPort("127.0.0.1", port))
}

// TestStartLlama8B runs Llama-3.1-8B on an 80 GiB card (81,920 MiB):
// chunk 8192 and max_bs 256 by memory, reserved = 512 + 12,288 + 128 +
// 512 = 13,440 MiB, mem_fraction_static = round(68,480/81,920, 3) = 0.836;
// pre = 80 − 0.5 = 79.5 GB, weights 16,060,522,496 B = 14.96 GB, rest =
// 64.5426 − 79.5·0.164 = 51.5048 GB; cell = 8·2·128·32·2 = 131,072 B, so
// 421,924 tokens; max_running = min(max(min(⌊421,924/8192·512⌋, 4096),
// 2048), 210,962) = 4096. At --mem-fraction-static 0.15 the weights leave
// nothing: minimum 1 − 64.5426/79.5 = 0.1881, suggested 0.189, and the
// process tree is killed.
func TestStartLlama8B(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"defaults", []string{"--context-length", "8192"}, exitOK, []string{
			"Load weight end. elapsed=0.00 s, type=LlamaForCausalLM, avail mem=64.54 GB, mem usage=14.96 GB.",
			"KV Cache is allocated. dtype: torch.bfloat16, #tokens: 421924, K size: 25.75 GB, V size: 25.75 GB",
			"max_total_num_tokens=421924, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=8192,",
			"INFO:     Application startup complete.", "The server is fired up and ready to roll!"}},
		{"mem fraction too low", []string{"--mem-fraction-static", "0.15"}, exitKillTree, []string{
			"Scheduler hit an exception: Traceback",
			"ValueError: Loaded weights leave no GPU memory for the KV cache under --mem-fraction-static=0.15. Raise --mem-fraction-static above 0.189 (minimum viable = 1 - available/pre = 0.1881).",
			"Received sigquit from a child process. It usually means the child failed."}},
		{"context above the model's", []string{"--context-length", "200000"}, exitError, []string{
			"ValueError: Warning: User-specified context_length (200000) is greater than the derived context_length (131072)."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := map[string]string{"SIM_GPU_TOTAL_BYTES": "80GiB", "SIM_STARTUP_DELAY": "0s"}
			ap := &app{ctx: ctx, getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errb, now: time.Now, listen: localListen}
			ap.serving = func(*server) { cancel() }
			argv := append([]string{"-m", "sglang.launch_server", "--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--port", "0"}, tt.args...)
			if code := ap.run(argv); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s\n%s", code, tt.code, errb.String(), out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestCommandLine: the leading `-m sglang.launch_server` is required and
// unknown flags are argparse's exit 2.
func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	ap := &app{ctx: context.Background(), getenv: func(string) string { return "" }, stdout: &out, stderr: &errb, now: time.Now, listen: localListen}
	if code := ap.run([]string{"-m", "sglang.launch_server", "--model-path", "m", "--bogus"}); code != exitUsage || !strings.Contains(errb.String(), "launch_server.py: error: unrecognized arguments: --bogus") {
		t.Errorf("exit %d, %s", code, errb.String())
	}
	if code := ap.run([]string{"-c", "print(1)"}); code != exitUsage {
		t.Errorf("python3 -c: exit %d", code)
	}
}
