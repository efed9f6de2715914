package validatecmd

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
)

// TestValidateServedEnginesOnSimulators runs validate --engine vllm and
// --engine sglang on the real Docker Engine against the vLLM and SGLang
// simulator images (memory models of their own, written from the engines'
// source, with hidden coefficients the estimate does not see) over a
// sweep of those coefficients: every run confirms its recommendation on 3
// fresh launches, each of which started, and places the edge in at most
// 2 launches before the confirmations (the target), because both
// engines print their KV pool on the first launch.
func TestValidateServedEnginesOnSimulators(t *testing.T) {
	cmdtest.Docker(t)
	images := map[string]string{"vllm": cmdtest.SimImageFor(t, "vllmsim"), "sglang": cmdtest.SimImageFor(t, "sglangsim")}
	cases := []struct {
		engine, version, model, gpu, name, total string
		fraction, overhead, act, jitter          string
	}{
		{"vllm", "0.21.0", "meta-llama/Llama-3.1-8B-Instruct", "H100", "NVIDIA H100 80GB HBM3", "85017755648", "0.3", "900000000", "1.2", "0"},
		{"vllm", "0.21.0", "meta-llama/Llama-3.1-8B-Instruct", "L4", "NVIDIA L4", "23570219008", "0.9", "400000000", "1.5", "150000000"},
		{"vllm", "0.21.0", "Qwen/Qwen2.5-7B-Instruct", "A100-80GB", "NVIDIA A100-SXM4-80GB", "85100068864", "0.5", "1500000000", "1.1", "50000000"},
		{"sglang", "0.5.18", "meta-llama/Llama-3.1-8B-Instruct", "H100", "NVIDIA H100 80GB HBM3", "85017755648", "0.3", "900000000", "1.5", "0"},
		{"sglang", "0.5.18", "meta-llama/Llama-3.1-8B-Instruct", "L4", "NVIDIA L4", "23570219008", "0.85", "400000000", "1.5", "150000000"},
		{"sglang", "0.5.18", "Qwen/Qwen2.5-7B-Instruct", "A100-80GB", "NVIDIA A100-SXM4-80GB", "85100068864", "0.6", "1500000000", "1.2", "50000000"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%s-%s-%s", c.engine, c.gpu, c.overhead), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "v.jsonl")
			fraction := map[string]string{"vllm": "--gpu-memory-utilization", "sglang": "--mem-fraction-static"}[c.engine]
			args := []string{c.model, "--engine", c.engine, "--engine-version", c.version, "--gpu", c.gpu, "--gpu-ids", "none", "--image", images[c.engine],
				"--offline", fraction, c.fraction, "--sim-gpus", "container:9400", "--env", "SIM_GPU_NAME=" + c.name, "--env", "SIM_GPU_TOTAL_BYTES=" + c.total,
				"--env", "SIM_EXTRA_OVERHEAD_BYTES=" + c.overhead, "--env", "SIM_ACTIVATION_FACTOR=" + c.act, "--env", "SIM_JITTER_BYTES=" + c.jitter,
				"--env", "SIM_SEED=" + strconv.Itoa(11+i), "--env", "SIM_STARTUP_DELAY=100ms", "--env", "SIM_TOKEN_DELAY=0s",
				"--out", out, "--health-timeout", "60s", "--input-tokens", "64", "--output-tokens", "16", "--concurrency", "4", "-o", "json"}
			stdout, stderr, code := cmdtest.Run(t, Root, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			var v struct {
				Engine      string `json:"engine"`
				LimitFlag   string `json:"limit_flag"`
				Recommended struct {
					MaxTotalTokens int `json:"max_total_tokens"`
				} `json:"recommended"`
				Confirmations   struct{ Tried, Started int } `json:"confirmations"`
				Confirmed       bool                         `json:"confirmed"`
				Launches        int                          `json:"launches"`
				LargestStart    int                          `json:"largest_start"`
				SmallestFailure int                          `json:"smallest_failure"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("-o json: %v\n%s", err, stdout)
			}
			obs := readObs(t, out)
			t.Logf("%s on %s (hidden %s B, ×%s, jitter %s): %d launches, recommended %s %d, largest start %d, smallest failure %d",
				c.engine, c.gpu, c.overhead, c.act, c.jitter, v.Launches, v.LimitFlag, v.Recommended.MaxTotalTokens, v.LargestStart, v.SmallestFailure)
			if !v.Confirmed || v.Confirmations.Tried != 3 || v.Confirmations.Started != 3 || v.Launches-3 > 2 || v.Launches != len(obs) ||
				v.Engine != c.engine || v.Recommended.MaxTotalTokens == 0 || v.Recommended.MaxTotalTokens > v.LargestStart {
				t.Errorf("%+v with %d launches on disk", v, len(obs))
			}
			for _, o := range obs {
				if o.OK() && (o.Budget() == 0 || o.Requests.OK != o.Requests.Concurrency || o.Requests.Concurrency != 4) {
					t.Errorf("a start without its pool or its requests: %+v", o)
				}
			}
		})
	}
}
