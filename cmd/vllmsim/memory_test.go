package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// llama8B is the catalog's Llama-3.1-8B-Instruct: L 32, H 4096, 32 heads,
// 8 KV heads of 128, Im 14336, V 128256, 16,060,522,496 weight bytes,
// 131,072 positions.
func llama8B(t *testing.T) *simkit.Model {
	t.Helper()
	m, err := simkit.ResolveModel("meta-llama/Llama-3.1-8B-Instruct", "", "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// env80 is an 80 GiB H100 (85,899,345,920 bytes) with vLLM's default
// hidden coefficients and no jitter.
func env80() simkit.Env {
	e := simkit.NewEnv(defaultOverhead, defaultContext, defaultActFactor, time.Now)
	e.GPUTotal = 80 << 30
	return e
}

// TestSimulateLlama8B pins the start on an 80 GiB card. At util 0.9:
// requested = ⌈85,899,345,920 × 0.9⌉ = 77,309,411,328; act/token =
// 2·(2·4096 + max(80·128, 3·14336)) = 102,400; peak = ⌈1.2 · max(8192 ·
// 102,400, 1024 · 128,256 · 4 · 3)⌉ = ⌈1.2 · 1,575,976,395⌉… =
// 1,891,211,674; 51 capture sizes (1…512), both modes: graph_est = (50
// MiB + 4 MiB) + 2 · 50 · 4 MiB = 476,053,504; available = 77,309,411,328
// − (402,653,184 + 1,891,211,674 + 16,060,522,496) − 476,053,504 =
// 58,478,970,470; a block of all layers is 2·16·8·128·2·32 = 2 MiB, so
// 27,884 blocks; at max_model_len 8192 a request takes 512 blocks:
// concurrency 54.4609375, 446,144 tokens. At util 0.3 the derived 131,072
// tokens need 8192 blocks (16.0 GiB) against 6,939,362,918 bytes (6.46
// GiB, 3308 blocks): the estimate is 3308 · 16 = 52,928. At util 0.98
// requested is 84,181,359,002, available 65,350,918,144, 31,161 blocks;
// before capture the card holds 512 MiB + 384 MiB + the weights + 31,161
// · 2 MiB = 82,349,203,456 (the profile peak is freed), so 3,550,142,464
// are free: the estimate's 476,053,504 plus 2 GiB fit, plus 3 GiB do not.
func TestSimulateLlama8B(t *testing.T) {
	m := llama8B(t)
	for _, tt := range []struct {
		name       string
		util       float64
		mml        int
		available  int64
		blocks     int
		kvTokens   int
		fail       failure
		msgHas     string
		graphExtra int64
	}{
		{name: "util 0.9 at 8192", util: 0.9, mml: 8192, available: 58478970470, blocks: 27884, kvTokens: 446144},
		{name: "util 0.3 at the derived length", util: 0.3, available: 6939362918, fail: failMaxModelLen,
			msgHas: "(131072), (16.0 GiB KV cache is needed, which is larger than the available KV cache memory (6.46 GiB). Based on the available memory, the estimated maximum model length is 52928. "},
		{name: "util 1.0 leaves no room for the context", util: 1.0, fail: failFreeMemory,
			msgHas: "Free memory on device cuda:0 (79.5/80.0 GiB) on startup is less than desired GPU memory utilization (1.0, 80.0 GiB)."},
		{name: "graphs 2 GiB beyond the estimate fit at 0.98", util: 0.98, mml: 8192, graphExtra: 2 << 30, available: 65350918144, blocks: 31161, kvTokens: 498576},
		{name: "graphs 3 GiB beyond the estimate run out at 0.98", util: 0.98, mml: 8192, graphExtra: 3 << 30, available: 65350918144, blocks: 31161, kvTokens: 498576, fail: failGraphOOM},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := defaultArgs()
			a.Util, a.MaxModelLen = tt.util, tt.mml
			env := env80()
			env.GraphExtra = tt.graphExtra
			p := simulate(a, m, env)
			if p.Fail != tt.fail || !strings.Contains(p.Message, tt.msgHas) {
				t.Fatalf("fail %d %q, want %d with %q", p.Fail, p.Message, tt.fail, tt.msgHas)
			}
			if tt.available != 0 && p.Available[0] != tt.available {
				t.Errorf("available %d, want %d", p.Available[0], tt.available)
			}
			if p.NumBlocks != tt.blocks || p.KVTokens != tt.kvTokens {
				t.Errorf("blocks %d, KV tokens %d; want %d, %d", p.NumBlocks, p.KVTokens, tt.blocks, tt.kvTokens)
			}
		})
	}
}

// TestStartLog runs the command in-process at util 0.9 and max_model_len
// 8192 and reads the sizing lines of TestSimulateLlama8B's first case
// (58,478,970,470 B = 54.46 GiB; 14.96 GiB of weights; "8k" is 8000
// tokens, 500 blocks, so 27,884 / 500 = 55.77x), then the
// readiness line; a SIGTERM-like cancel exits 0.
func TestStartLog(t *testing.T) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"SIM_GPU_TOTAL_BYTES": "80GiB", "SIM_STARTUP_DELAY": "0s"}
	ap := &app{ctx: ctx, getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errb, now: time.Now, listen: localListen, watchdog: time.Millisecond}
	ap.serving = func(*server) { cancel() }
	code := ap.run([]string{"serve", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8k", "--gpu-memory-utilization", "0.9", "--port", "0", "--host", "127.0.0.1"})
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{
		"[gpu_model_runner.py:4959] Model loading took 14.96 GiB memory and ",
		"(EngineCore pid=", "[gpu_worker.py:462] Available KV cache memory: 54.46 GiB",
		"[kv_cache_utils.py:1710] GPU KV cache size: 446,144 tokens",
		"[kv_cache_utils.py:1711] Maximum concurrency for 8,000 tokens per request: 55.77x",
		"Graph capturing finished in 0 secs, took 0.44 GiB",
		") INFO:     Application startup complete.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRefusalExit is the max_model_len refusal: EngineCore's traceback,
// the API server's RuntimeError, exit code 1, and no readiness line.
func TestRefusalExit(t *testing.T) {
	var out, errb bytes.Buffer
	env := map[string]string{"SIM_GPU_TOTAL_BYTES": "80GiB", "SIM_STARTUP_DELAY": "0s"}
	ap := &app{ctx: context.Background(), getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errb, now: time.Now, listen: localListen}
	if code := ap.run([]string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu-memory-utilization=0.3"}); code != exitError {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"EngineCore failed to start.", "the estimated maximum model length is 52928.", "RuntimeError: Engine core initialization failed."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "Application startup complete.") {
		t.Error("a refused start must not serve")
	}
}

// TestArgs pins argparse's behaviour: unknown flags exit 2 with its
// message, lengths read vLLM's suffixes.
func TestArgs(t *testing.T) {
	if _, err := parseArgs([]string{"m", "--bogus", "1"}); err == nil || !strings.Contains(err.Error(), "vllm serve: error: unrecognized arguments: --bogus") {
		t.Errorf("unknown flag: %v", err)
	}
	a, err := parseArgs([]string{"--model", "x", "--max-model-len", "32K", "--max-num-batched-tokens=2k", "--enforce-eager", "-tp", "2"})
	if err != nil || a.Model != "x" || a.MaxModelLen != 32768 || a.MaxBatched != 2000 || !a.EnforceEager || a.TP != 2 {
		t.Errorf("parsed %+v, %v", a, err)
	}
	if a, _ := parseArgs([]string{"m", "--max-model-len", "auto"}); a.MaxModelLen != -1 {
		t.Errorf("auto: %d", a.MaxModelLen)
	}
}
