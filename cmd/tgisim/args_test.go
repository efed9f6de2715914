package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// envMap is a getenv over a fixed map.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		env  map[string]string
		// check inspects the parsed Args.
		check func(t *testing.T, a *Args)
	}{
		{
			name: "defaults as clap sets them",
			check: func(t *testing.T, a *Args) {
				if a.ModelID != "bigscience/bloom-560m" || a.Port != 3000 || a.Hostname != "0.0.0.0" || a.MaxConcurrentRequests != 128 {
					t.Errorf("defaults: model %q port %d host %q mcr %d", a.ModelID, a.Port, a.Hostname, a.MaxConcurrentRequests)
				}
				if a.CUDAMemoryFraction != 1.0 || a.MaxInputTokens != nil || a.MaxTotalTokens != nil || a.MaxBatchPrefillTokens != nil || a.CUDAGraphs != nil {
					t.Errorf("unset limits must stay nil: %+v", a)
				}
			},
		},
		{
			name: "flags, --flag=value and the short port",
			argv: []string{"--model-id", "/data/m", "--max-input-tokens=1000", "--max-total-tokens", "2000", "-p", "8080", "--cuda-graphs", "1,2,0,8"},
			check: func(t *testing.T, a *Args) {
				if a.ModelID != "/data/m" || *a.MaxInputTokens != 1000 || *a.MaxTotalTokens != 2000 || a.Port != 8080 {
					t.Errorf("got model %q I %d T %d port %d", a.ModelID, *a.MaxInputTokens, *a.MaxTotalTokens, a.Port)
				}
				if got := a.CUDAGraphs; len(got) != 4 || got[2] != 0 || got[3] != 8 {
					t.Errorf("cuda graphs %v", got)
				}
			},
		},
		{
			name: "env fills what the command line leaves out, the flag wins",
			argv: []string{"--max-total-tokens", "3000"},
			env:  map[string]string{"MAX_TOTAL_TOKENS": "9999", "MAX_BATCH_PREFILL_TOKENS": "2048", "PORT": "80", "MODEL_ID": "org/m", "CUDA_MEMORY_FRACTION": "0.9", "TRUST_REMOTE_CODE": "false"},
			check: func(t *testing.T, a *Args) {
				if *a.MaxTotalTokens != 3000 || *a.MaxBatchPrefillTokens != 2048 || a.Port != 80 || a.ModelID != "org/m" {
					t.Errorf("got T %d P %d port %d model %q", *a.MaxTotalTokens, *a.MaxBatchPrefillTokens, a.Port, a.ModelID)
				}
				// 0.9 as f32 is 0.899999976; the shard reads back "0.9".
				if a.CUDAMemoryFraction != 0.9 {
					t.Errorf("cuda memory fraction %v, want 0.9", a.CUDAMemoryFraction)
				}
				if a.raw["trust_remote_code"] != "" {
					t.Errorf("TRUST_REMOTE_CODE=false must not set the flag")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs(tt.argv, envMap(tt.env))
			if err != nil {
				t.Fatalf("parseArgs: %v", err)
			}
			tt.check(t, a)
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		argv []string
		env  map[string]string
		want string // the first line of clap's message
	}{
		{[]string{"--max-input-tokens", "abc"}, nil, "error: invalid value 'abc' for '--max-input-tokens <MAX_INPUT_TOKENS>': invalid digit found in string"},
		{[]string{"--max-total-tokens", "-5"}, nil, "error: a value is required for '--max-total-tokens <MAX_TOTAL_TOKENS>' but none was supplied"},
		{[]string{"--port", "70000"}, nil, "error: invalid value '70000' for '--port <PORT>': 70000 is not in 0..=65535"},
		{[]string{"--quantize", "int4"}, nil, "error: invalid value 'int4' for '--quantize <QUANTIZE>'"},
		{[]string{"--max-batch-prefil-tokens", "4096"}, nil, "error: unexpected argument '--max-batch-prefil-tokens' found"},
		{[]string{"--port", "80", "--port", "81"}, nil, "error: the argument '--port <PORT>' cannot be used multiple times"},
		{[]string{"--trust-remote-code=yes"}, nil, "error: unexpected value 'yes' for '--trust-remote-code' found; no more were expected"},
		{nil, map[string]string{"MAX_INPUT_TOKENS": "1k"}, "error: invalid value '1k' for '--max-input-tokens <MAX_INPUT_TOKENS>': invalid digit found in string"},
		{[]string{"--kv-cache-dtype", "fp8"}, nil, "error: invalid value 'fp8' for '--kv-cache-dtype <KV_CACHE_DTYPE>'"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			_, err := parseArgs(tt.argv, envMap(tt.env))
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("want a usage error, got %v", err)
			}
			if first := strings.SplitN(ue.msg, "\n", 2)[0]; first != tt.want {
				t.Errorf("message\n got %q\nwant %q", first, tt.want)
			}
		})
	}
	_, err := parseArgs([]string{"--quantize", "int4"}, envMap(nil))
	if !strings.Contains(err.Error(), "[possible values: awq, compressed-tensors, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, fp8]") {
		t.Errorf("enum error must list the values: %q", err)
	}
}

// TestLauncherValidation checks TGI v3.3.7's launcher checks, their order
// and messages (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2036-L2208).
func TestLauncherValidation(t *testing.T) {
	m := simkit.CatalogModel("meta-llama/Llama-3.1-8B-Instruct")
	tests := []struct {
		argv []string
		gpus int
		want string
	}{
		{[]string{"--max-input-tokens", "100", "--max-input-length", "200"}, 1,
			"Error: ArgumentValidation(\"Both `max_input_tokens` (100) and `max_input_length` (200) are set. Please define only `max_input_tokens` as `max_input_length is deprecated for naming consistency.\")"},
		{[]string{"--max-input-tokens", "4096", "--max-total-tokens", "4096"}, 1,
			"Error: ArgumentValidation(\"`max_input_tokens`(4096) must be < `max_total_tokens`(4096)\")"},
		{[]string{"--max-input-length", "5000", "--max-total-tokens", "4096"}, 1,
			"Error: ArgumentValidation(\"`max_input_tokens`(5000) must be < `max_total_tokens`(4096)\")"},
		{[]string{"--max-total-tokens", "8192", "--max-batch-total-tokens", "4096"}, 1,
			"Error: ArgumentValidation(\"`max_total_tokens` must be <= `max_batch_total_tokens`. Given: 8192 and 4096\")"},
		{[]string{"--num-shard", "0"}, 1, "Error: ArgumentValidation(\"`num_shard` cannot be < 1\")"},
		{[]string{"--sharded", "true", "--num-shard", "1"}, 2, "Error: ArgumentValidation(\"`sharded` is true but `num_shard` <= 1\")"},
		{[]string{"--sharded", "true"}, 1, "Error: NotEnoughCUDADevices(\"`sharded` is true but only found 1 CUDA devices\")"},
		{[]string{"--num-shard", "2", "--quantize", "exl2"}, 2, "Error: ArgumentValidation(\"Sharding is currently not supported with `exl2` quantization\")"},
		{[]string{"--validation-workers", "0"}, 1, "Error: ArgumentValidation(\"`validation_workers` must be > 0\")"},
		{[]string{"--ngrok"}, 1, "Error: ArgumentValidation(\"`ngrok-authtoken` must be set when using ngrok tunneling\")"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			a, err := parseArgs(tt.argv, envMap(nil))
			if err != nil {
				t.Fatal(err)
			}
			env := testEnv()
			env.GPU.Count = tt.gpus
			_, _, err = planLaunch(a, m, env)
			if err == nil || err.Error() != tt.want {
				t.Errorf("\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}
