package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/vramcalc/vramcalc/internal/calibratecmd"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
	"github.com/vramcalc/vramcalc/internal/loadcmd"
	"github.com/vramcalc/vramcalc/internal/plotcmd"
	"github.com/vramcalc/vramcalc/internal/servecmd"
	"github.com/vramcalc/vramcalc/internal/validatecmd"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestMain registers vramcalc and its companion programs as commands of
// the scripts, installed side by side as `go install ./cmd/...` puts them.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"vramcalc":           main,
		"vramcalc-validate":  func() { os.Exit(cmdutil.Main(validatecmd.Root, hubcmd.InProcess)) },
		"vramcalc-calibrate": func() { os.Exit(cmdutil.Main(calibratecmd.Root)) },
		"vramcalc-plot":      func() { os.Exit(cmdutil.Main(plotcmd.Root)) },
		"vramcalc-load":      func() { os.Exit(cmdutil.Main(loadcmd.Root, hubcmd.InProcess)) },
		"vramcalc-hub":       func() { os.Exit(cmdutil.Main(hubcmd.Root)) },
		"vramcalc-serve":     func() { os.Exit(cmdutil.Main(servecmd.Root, hubcmd.InProcess)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script (txtar): every
// subcommand, each output format, and the errors a user can hit.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Never reach the real Hub from a test.
			env.Setenv("HF_HUB_OFFLINE", "1")
			env.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")
			env.Setenv("HF_HOME", filepath.Join(env.WorkDir, "hf"))
			return nil
		},
	})
}

// runCLI runs vramcalc in-process with an offline environment.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return cmdtest.Run(t, newApp, args...)
}

// goldenCases are catalog models × two GPU set-ups; their JSON output is
// compared with testdata/golden/<name>.json (go test -update rewrites them).
var goldenCases = []struct {
	name string
	args []string
}{
	{"llama-3.1-8b.1xL4", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4"}},
	{"llama-3.1-8b.1xH100", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100"}},
	{"llama-3.3-70b.2xH100", []string{"meta-llama/Llama-3.3-70B-Instruct", "--gpu", "H100", "--gpus", "2"}},
	{"llama-3.3-70b.4xA100-40", []string{"meta-llama/Llama-3.3-70B-Instruct", "--gpu", "A100-40GB", "--gpus", "4"}},
	{"mistral-7b-v0.3.1xA10G", []string{"mistralai/Mistral-7B-Instruct-v0.3", "--gpu", "A10G"}},
	{"mistral-7b-v0.3.1xA100-tgi2.0", []string{"mistralai/Mistral-7B-Instruct-v0.3", "--gpu", "A100-80GB", "--engine-version", "2.0.4"}},
	{"qwen2.5-7b.1xL4", []string{"Qwen/Qwen2.5-7B-Instruct", "--gpu", "L4"}},
	{"qwen2.5-7b.1x4090-fp8kv", []string{"Qwen/Qwen2.5-7B-Instruct", "--gpu", "4090", "--kv-cache-dtype", "fp8_e4m3fn"}},
	{"qwen3-32b.1xH100", []string{"Qwen/Qwen3-32B", "--gpu", "H100"}},
	{"qwen3-32b.2xL40S", []string{"Qwen/Qwen3-32B", "--gpu", "L40S", "--gpus", "2"}},
	{"gemma-2-9b.1xL4", []string{"google/gemma-2-9b-it", "--gpu", "L4"}},
	{"gemma-2-9b.1xA10G-tgi2.2", []string{"google/gemma-2-9b-it", "--gpu", "A10G", "--engine-version", "2.2.0"}},
	{"mixtral-8x7b.2xH100", []string{"mistralai/Mixtral-8x7B-v0.1", "--gpu", "H100", "--gpus", "2"}},
	{"mixtral-8x7b.4xL40S", []string{"mistralai/Mixtral-8x7B-v0.1", "--gpu", "L40S", "--gpus", "4"}},
	{"phi-3-mini.1xT4", []string{"microsoft/Phi-3-mini-4k-instruct", "--gpu", "T4"}},
	{"phi-3-mini.1xL4-limits", []string{"microsoft/Phi-3-mini-4k-instruct", "--gpu", "L4", "--max-input-tokens", "3000", "--max-total-tokens", "4096", "--max-batch-prefill-tokens", "8192"}},
	{"deepseek-v3.8xH200", []string{"deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8"}},
	{"deepseek-v3.8xH100", []string{"deepseek-ai/DeepSeek-V3", "--gpu", "H100", "--gpus", "8"}},
	{"qwen3-235b-fp8.4xH100", []string{"Qwen/Qwen3-235B-A22B-FP8", "--gpu", "H100", "--gpus", "4"}},
	{"qwen3-235b-fp8.4xH200", []string{"Qwen/Qwen3-235B-A22B-FP8", "--gpu", "H200", "--gpus", "4"}},
	{"vllm.llama-3.1-8b.1xH100", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100", "--engine", "vllm"}},
	{"vllm.llama-3.1-8b.1xL4-v0.11", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L4", "--engine", "vllm", "--engine-version", "0.11.0", "--max-model-len", "16384"}},
	{"vllm.qwen3-32b.2xH100-gmu0.95", []string{"Qwen/Qwen3-32B", "--gpu", "H100", "--gpus", "2", "--engine", "vllm", "--gpu-memory-utilization", "0.95"}},
	{"vllm.deepseek-v3.8xH200-fp8kv", []string{"deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8", "--engine", "vllm", "--kv-cache-dtype", "fp8"}},
	{"sglang.llama-3.1-8b.1xH100", []string{"meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100", "--engine", "sglang"}},
	{"sglang.qwen3-235b-fp8.4xH100", []string{"Qwen/Qwen3-235B-A22B-FP8", "--gpu", "H100", "--gpus", "4", "--engine", "sglang", "--mem-fraction-static", "0.93"}},
	{"vllm.deepseek-v3.8xH200-mtp", []string{"deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8", "--engine", "vllm", "--speculative-config", `{"method":"mtp","num_speculative_tokens":1}`}},
	{"vllm.kimi-linear.2xH100-v0.21", []string{"moonshotai/Kimi-Linear-48B-A3B-Instruct", "--gpu", "H100", "--gpus", "2", "--engine", "vllm", "--engine-version", "0.21.0", "--max-model-len", "131072"}},
	{"sglang.kimi-linear.2xH100-0.5.18", []string{"moonshotai/Kimi-Linear-48B-A3B-Instruct", "--gpu", "H100", "--gpus", "2", "--engine", "sglang", "--engine-version", "0.5.18", "--context-length", "131072"}},
	{"sglang.deepseek-v3.8xH200-nextn-0.5.18", []string{"deepseek-ai/DeepSeek-V3", "--gpu", "H200", "--gpus", "8", "--engine", "sglang", "--engine-version", "0.5.18", "--speculative-algorithm", "NEXTN"}},
}

func TestGoldenEstimates(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"estimate", "-o", "json"}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var rep map[string]any
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			for _, k := range []string{"model", "engine", "gpus", "per_gpu", "kv_bytes_per_token", "boundary", "fits", "warnings"} {
				if _, ok := rep[k]; !ok {
					t.Errorf("JSON lacks %q", k)
				}
			}
			path := filepath.Join("..", "..", "testdata", "golden", c.name+".json")
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/vramcalc -update to create it)", err)
			}
			if got := out; got != string(want) {
				t.Errorf("output differs from %s (go test ./cmd/vramcalc -update after checking the change):\n%s", path, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return ""
}

// TestCommandsAndHelp: an unknown command is a usage error (exit 2) naming
// the closest command, and `help NAME` shows the built command's flags,
// as `NAME --help` does, although commands are built only when they run.
func TestCommandsAndHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // stderr, whole
	}{
		{[]string{"estimat", "x"}, cmdutil.ExitUsage, "", "vramcalc: error: no command \"estimat\"\nvramcalc: hint: did you mean estimate? (run `vramcalc --help` for the commands)\n"},
		{[]string{"help", "nosuch"}, cmdutil.ExitUsage, "", "vramcalc: error: no command \"nosuch\"\nvramcalc: hint: run `vramcalc --help` for the commands\n"},
		{[]string{"help", "estimate"}, cmdutil.ExitOK, "--max-batch-prefill-tokens", ""},
		{[]string{"estimate", "--help"}, cmdutil.ExitOK, "--max-batch-prefill-tokens", ""},
		{[]string{"help", "plan"}, cmdutil.ExitOK, "--concurrency", ""},
		{[]string{"help", "version"}, cmdutil.ExitOK, "vramcalc version - ", ""},
	} {
		out, errOut, code := cmdtest.Run(t, newApp, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || errOut != c.err {
			t.Errorf("vramcalc %s: exit %d, stdout %.200q, stderr %q; want exit %d, %q in stdout, stderr %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.out, c.err)
		}
	}
}
