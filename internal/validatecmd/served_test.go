package validatecmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/plotcmd"
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
			if c.model == "Qwen/Qwen2.5-7B-Instruct" {
				// Every request of these runs also carries an image, as
				// for a multimodal model: a chat message with an
				// image_url part, which the simulators count.
				args = append(args, "--request-image", onePixelPNG(t))
			}
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

// TestValidateLoadOnSimulators: validate --load on the real Docker Engine.
// vLLM's simulator leaks 3 MB per request (SIM_LEAK_BYTES_PER_REQUEST):
// the load test at the confirmed recommendation reports a memory_trend
// failure (exit 4), its timeline is on disk, and vramcalc plot timeline
// draws it. SGLang's simulator does not leak: the same load test finds no
// failure and compares the peak with the predicted serving memory.
func TestValidateLoadOnSimulators(t *testing.T) {
	cmdtest.Docker(t)
	for _, c := range []struct {
		engine, dir, fraction, leak string
		code                        int
		failures                    []string
	}{
		{"vllm", "vllmsim", "--gpu-memory-utilization", "3000000", 4, []string{"memory_trend"}},
		{"sglang", "sglangsim", "--mem-fraction-static", "0", 0, nil},
	} {
		t.Run(c.engine, func(t *testing.T) {
			dir := t.TempDir()
			out, tl := filepath.Join(dir, "v.jsonl"), filepath.Join(dir, "v-load-timeline.jsonl")
			args := []string{"meta-llama/Llama-3.1-8B-Instruct", "--engine", c.engine, "--gpu", "L4", "--gpu-ids", "none", "--image", cmdtest.SimImageFor(t, c.dir),
				"--offline", c.fraction, "0.85", "--sim-gpus", "container:9400", "--env", "SIM_GPU_NAME=NVIDIA L4", "--env", "SIM_GPU_TOTAL_BYTES=23570219008",
				"--env", "SIM_EXTRA_OVERHEAD_BYTES=400000000", "--env", "SIM_STARTUP_DELAY=100ms", "--env", "SIM_TOKEN_DELAY=5ms",
				"--env", "SIM_LEAK_BYTES_PER_REQUEST=" + c.leak, "--out", out, "--health-timeout", "60s", "--input-tokens", "256", "--output-tokens", "64",
				"--concurrency", "4", "--load", "3s", "--load-concurrency", "1,8,16", "--price", "0.8", "-o", "json"}
			stdout, stderr, code := cmdtest.Run(t, Root, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, stdout, stderr)
			}
			var v struct {
				Confirmed bool `json:"confirmed"`
				Launches  int  `json:"launches"`
				Load      *struct {
					Levels []struct {
						Concurrency, Requests, Errors int
					} `json:"levels"`
					Predicted *struct {
						ServingBytes uint64 `json:"serving_bytes"`
					} `json:"predicted"`
					Failures []struct{ Kind string } `json:"failures"`
					Timeline string                  `json:"timeline"`
				} `json:"load"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil || v.Load == nil {
				t.Fatalf("-o json: %v\n%s", err, stdout)
			}
			var kinds []string
			for _, f := range v.Load.Failures {
				kinds = append(kinds, f.Kind)
			}
			// The held launch is recorded after the search's.
			if obs := readObs(t, out); !v.Confirmed || len(obs) != v.Launches+1 || len(v.Load.Levels) != 3 || v.Load.Predicted == nil ||
				v.Load.Timeline != tl || fmt.Sprint(kinds) != fmt.Sprint(c.failures) {
				t.Errorf("confirmed %v, %d launches + %d on disk, load %+v, failures %v (want %v)", v.Confirmed, v.Launches, len(obs), v.Load, kinds, c.failures)
			}
			for _, l := range v.Load.Levels {
				if l.Requests == 0 || l.Errors != 0 {
					t.Errorf("level %+v", l)
				}
			}
			png := filepath.Join(dir, "timeline.png")
			if so, se, code := cmdtest.Run(t, plotcmd.Root, "timeline", tl, "--out", png); code != 0 {
				t.Fatalf("plot timeline: exit %d\n%s%s", code, so, se)
			}
			if fi, err := os.Stat(png); err != nil || fi.Size() < 20_000 {
				t.Errorf("timeline.png: %v", err)
			}
		})
	}
}

// onePixelPNG writes a valid 1×1 RGB PNG and returns its path.
func onePixelPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "one.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestValidateCaptureOOMOnSimulator: the vLLM simulator's CUDA graphs take
// 4 GB more than vLLM budgets (SIM_CUDA_GRAPH_EXTRA_BYTES), so at
// --gpu-memory-utilization 0.97 every length sizes its pool and then runs
// out of memory at capture. validate stops after two such launches
// instead of searching lengths until --max-launches, recommends nothing,
// and its hint says to lower the memory fraction.
func TestValidateCaptureOOMOnSimulator(t *testing.T) {
	cmdtest.Docker(t)
	out := filepath.Join(t.TempDir(), "v.jsonl")
	stdout, stderr, code := cmdtest.Run(t, Root, "meta-llama/Llama-3.1-8B-Instruct", "--engine", "vllm", "--engine-version", "0.21.0", "--gpu", "H100",
		"--gpu-ids", "none", "--image", cmdtest.SimImageFor(t, "vllmsim"), "--offline", "--gpu-memory-utilization", "0.97",
		"--env", "SIM_GPU_NAME=NVIDIA H100 80GB HBM3", "--env", "SIM_GPU_TOTAL_BYTES=85017755648", "--env", "SIM_CUDA_GRAPH_EXTRA_BYTES=4000000000",
		"--env", "SIM_STARTUP_DELAY=100ms", "--out", out, "--health-timeout", "60s", "--input-tokens", "16", "--output-tokens", "4")
	obs := readObs(t, out)
	if code != 1 || len(obs) != 2 || !strings.Contains(stdout, "no recommendation") || !strings.Contains(stderr, "lower --gpu-memory-utilization") {
		t.Fatalf("exit %d, %d launches\n%s\n%s", code, len(obs), stdout, stderr)
	}
	for _, o := range obs {
		if o.Failure != "cuda_oom" || o.Reported.KVTokens < o.Point.MaxTotalTokens {
			t.Errorf("launch %+v", o)
		}
	}
}
