// Package loadcmd is `vramcalc load` (the program vramcalc-load): memory,
// latency and throughput of a running vLLM, SGLang or TGI server under a
// sweep of concurrent clients, set against the estimate (issue 12 §3).
package loadcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/nvml/driver"
)

// ExitFailures is the exit code of a run that found a failure.
const ExitFailures = 4

const loadDescription = `Drives a server that already runs with N concurrent clients, level after level, and
watches its memory while it serves: the place where a pool that passed the startup check
runs out, memory that keeps growing, and a concurrency the startup log promised that the
server never reaches.

  vramcalc load --url http://127.0.0.1:8000 --engine vllm --model meta-llama/Llama-3.1-8B-Instruct --gpu L4
  vramcalc load --url http://127.0.0.1:30000 --engine sglang --model Qwen/Qwen3-8B --concurrency 1,8,32 --requests 200 -o json
  vramcalc load --url http://127.0.0.1:8080 --engine tgi --model M --sim-gpus http://127.0.0.1:9400 --timeline run.csv

Each level (--concurrency 1,8,32,128) runs that many clients, each sending one request
after the other, for --duration (the requests in flight then finish) or --requests per
level. Prompts are exactly --input-len tokens by the server's own tokenizer (vLLM POST
/tokenize, SGLang /v1/tokenize, TGI /tokenize); vLLM and SGLang are asked for exactly
--output-len tokens (min_tokens and ignore_eos) and their usage gives the count, TGI's
details give its own (TGI has no ignore_eos: a model may stop early at EOS).

Lengths are N, or drawn per request: MIN:MAX (uniform, both included) or
lognormal:MEDIAN:SIGMA (MEDIAN·e^(SIGMA·Z), Z standard normal cut at ±3). The draws are
seeded (--seed, default 1): every level and every run with the same seed sends the same
sequence. Drawn prompt lengths are rounded to a power-of-two step that leaves at most 128
lengths (128:2048 in steps of 16), and one exact prompt per length is built before the run.
The prediction is for requests of the distributions' means (a warning says so); each
level reports the mean lengths it sent.

Every --interval (100ms) a sample of the timeline: used memory per GPU (NVML, or the
simulator's /sim/gpus with --sim-gpus URL), the engine's KV usage and its running, waiting
and preempted requests (vLLM /metrics; SGLang only with --enable-metrics; TGI's batch
gauges). Values that cannot be read are left out, never written as zero. The timeline
--timeline FILE is JSONL (CSV when FILE ends in .csv), written as it goes, so Ctrl-C loses
nothing sampled: the report of what was measured is printed, and the exit code is 130.
vramcalc plot timeline FILE draws it.

Per level: requests, errors, TTFT p50/p90/p99 and inter-token latency p50/p90 in ms,
output tokens/s, requests/s, peak used memory per GPU, peak KV usage and, with a price,
dollars per million output tokens: --price USD_PER_HOUR (the whole set-up), or --prices
FILE, vramcalc plan's file, whose price for the GPU (--gpu, else the sampled device) is
multiplied by the GPU count (--gpus, else the devices sampled); the report says which.
vramcalc has no built-in prices: without either flag there is no cost. With --model the
estimate for the engine's limits (--max-model-len/--gpu-memory-utilization/--max-num-seqs
for vLLM, --context-length/--mem-fraction-static/--max-running-requests for SGLang,
--max-total-tokens/--max-input-tokens/--max-batch-prefill-tokens/--cuda-memory-fraction
for TGI: give the ones the server was started with) is set against the run: peak memory
against the predicted serving memory per GPU, KV usage against the predicted pool, the
most requests the engine ran at once against the predicted concurrency. A model that cannot
be resolved is a warning and a report without prediction.

Failures: runtime_oom (the server stopped serving after it served: connections refused, or
5xx answers with /health failing; the time and the last memory sampled), memory_trend (used memory grew steadily over the run), errors (a level
with more than --max-error-rate of its requests failed).

-o json prints one object: levels[{concurrency, requests, errors, ttft_ms{p50,p90,p99},
itl_ms{p50,p90}, output_tokens_per_s, requests_per_s, mean_input_len, mean_output_len,
peak_used_bytes[], peak_kv_usage, usd_per_million_output_tokens, …}],
predicted{serving_bytes, kv_pool_tokens, max_concurrency} (null without a prediction),
compared{…}, failures[{kind, at_s, detail}], timeline (the file written), input_len,
output_len, input_step, seed, price{usd_per_hour, source (flag, file or none), detail},
and more.

Exit codes: 0 no failure, 1 error, 2 bad usage, 4 a failure was found (runtime_oom,
memory_trend or errors), 130 interrupted.`

// Command is `vramcalc load`.
func Command(e cmdutil.Env) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "url", Usage: "the running server's root `URL`, e.g. http://127.0.0.1:8000"},
		&cli.StringFlag{Name: "engine", Usage: "the server's engine: vllm, sglang or tgi"},
		&cli.StringFlag{Name: "model", Usage: "the served `MODEL` (as for estimate), for the prediction and the OpenAI requests"},
		&cli.StringFlag{Name: "served-model-name", Usage: "the model name the OpenAI API expects, when not --model"},
		&cli.StringFlag{Name: "engine-version", Usage: "the engine's release (`VERSION`) for the estimate; default: the newest vramcalc models"},
		&cli.StringFlag{Name: "concurrency", Value: "1,8,32,128", Usage: "concurrent clients per level, a comma-separated sweep"},
		&cli.StringFlag{Name: "input-len", Value: "512", Usage: "prompt tokens per request, by the server's tokenizer: `N`, MIN:MAX (uniform) or lognormal:MEDIAN:SIGMA"},
		&cli.StringFlag{Name: "output-len", Value: "128", Usage: "output tokens per request: `N`, MIN:MAX (uniform) or lognormal:MEDIAN:SIGMA"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the drawn lengths: the same seed sends the same lengths"},
		&cli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "how long each level sends requests"},
		&cli.IntFlag{Name: "requests", HideDefault: true, Usage: "requests per level instead of --duration"},
		&cli.DurationFlag{Name: "ramp", HideDefault: true, Usage: "start each level's clients one by one over this time"},
		&cli.DurationFlag{Name: "interval", Value: load.DefaultInterval, Usage: "timeline sampling period"},
		&cli.FloatFlag{Name: "price", HideDefault: true, Usage: "price of the whole set-up in `USD_PER_HOUR`, for dollars per million output tokens"},
		&cli.StringFlag{Name: "prices", Usage: "vramcalc plan's prices `FILE` (CSV gpu,price or JSON): the GPU's hourly price × --gpus instead of --price"},
		&cli.StringFlag{Name: "timeline", Value: "load-timeline.jsonl", Usage: "timeline `FILE` (JSONL, or CSV for .csv; \"\" writes none)"},
		&cli.FloatFlag{Name: "max-error-rate", Value: load.DefaultMaxErrorRate, Usage: "share of failed requests above which a level fails"},
		&cli.StringFlag{Name: "sim-gpus", Usage: "read GPU memory from a simulator's /sim/gpus at this `URL` instead of NVML"},
		&cli.StringFlag{Name: "sampler", Value: "nvml", Usage: "where GPU memory is read: nvml (NVIDIA) or amd (amdgpu's mem_info_vram_used in sysfs, for MI300X/MI250X hosts)"},
		&cli.StringFlag{Name: "amd-sysfs", Value: "/sys/class/drm", Usage: "with --sampler amd: the `DIR` holding amdgpu's cardN directories"},
		&cli.StringFlag{Name: "gpu-ids", Usage: "GPU indices to sample, e.g. 0,1; default: every GPU"},
		cmdutil.OutputFlag(),
	}
	flags = append(flags, cmdutil.HardwareFlags()...)
	flags = append(flags, limitFlags()...)
	return &cli.Command{
		Name:        "load",
		Usage:       "memory, latency and throughput of a running vLLM, SGLang or TGI server under concurrent load, against the estimate",
		Description: loadDescription,
		Flags:       append(flags, cmdutil.ModelFlags()...),
		Action:      func(ctx context.Context, c *cli.Command) error { return runLoad(ctx, c, e) },
	}
}

// Root is the vramcalc-load program, which `vramcalc load` runs.
func Root(e cmdutil.Env) *cli.Command {
	c := Command(e)
	c.Name = "vramcalc load"
	return cmdutil.Prepare(c, e)
}

func runLoad(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	format, err := cmdutil.Format(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	sampler, warn := chooseSampler(c)
	if sampler != nil {
		defer sampler.Close()
	}
	cfg.Sampler = sampler
	if cfg.GPUs, err = parseIDs(c.String("gpu-ids")); err != nil {
		return err
	}
	warnings := warn
	hw, hwErr := hardware(ctx, c, sampler)
	pw, err := setPrice(c, &cfg, hw, hwErr)
	if err != nil {
		return err
	}
	warnings = append(warnings, pw...)
	pred, pw := predict(ctx, c, e, hw, hwErr, cfg.InputDist, cfg.OutputDist)
	cfg.Predicted, warnings = pred, append(warnings, pw...)
	for _, w := range warnings {
		fmt.Fprintln(e.Stderr, "warning: "+w)
	}
	rep, runErr := load.Run(ctx, cfg)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runError(runErr)
	}
	if err := Render(e, format, rep, warnings); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	return FailuresError(rep.Failures)
}

// loadConfig reads the flags of the run itself.
func loadConfig(c *cli.Command) (load.Config, error) {
	engine := strings.ToLower(c.String("engine"))
	switch {
	case c.String("url") == "":
		return load.Config{}, cmdutil.Usage("e.g. --url http://127.0.0.1:8000 --engine vllm", "--url is required: the server to load")
	case engine != load.EngineVLLM && engine != load.EngineSGLang && engine != load.EngineTGI:
		return load.Config{}, cmdutil.Usage("--engine vllm, sglang or tgi", "--engine %q: want vllm, sglang or tgi", c.String("engine"))
	case !strings.EqualFold(c.String("sampler"), "nvml") && !strings.EqualFold(c.String("sampler"), "amd"):
		return load.Config{}, cmdutil.Usage("--sampler nvml (NVIDIA) or --sampler amd (amdgpu sysfs)", "--sampler %q is not a memory source", c.String("sampler"))
	}
	if err := checkLimitFlags(c, engine); err != nil {
		return load.Config{}, err
	}
	levels, err := parseLevels(c.String("concurrency"))
	if err != nil {
		return load.Config{}, err
	}
	in, err := lengthsFlag(c, "input-len")
	if err != nil {
		return load.Config{}, err
	}
	out, err := lengthsFlag(c, "output-len")
	if err != nil {
		return load.Config{}, err
	}
	reqs := int(c.Int("requests"))
	if reqs < 0 {
		return load.Config{}, cmdutil.Usage("--requests is the number each level sends, 0 for --duration", "--requests %d", reqs)
	}
	if reqs == 0 && c.Duration("duration") <= 0 {
		return load.Config{}, cmdutil.Usage("e.g. --duration 30s or --requests 100", "each level needs a --duration or a number of --requests")
	}
	served := c.String("served-model-name")
	if served == "" && engine != load.EngineTGI {
		served = c.String("model")
	}
	return load.Config{URL: c.String("url"), Engine: engine, Model: served, Concurrency: levels, InputDist: in, OutputDist: out, Seed: c.Uint64("seed"),
		Duration: c.Duration("duration"), Requests: reqs, Ramp: c.Duration("ramp"), Interval: c.Duration("interval"),
		Timeline: c.String("timeline"), MaxErrorRate: c.Float("max-error-rate")}, nil
}

// lengthsFlag reads --input-len or --output-len (load.ParseLengths).
func lengthsFlag(c *cli.Command, name string) (load.Lengths, error) {
	l, err := load.ParseLengths(c.String(name))
	if err != nil {
		return l, cmdutil.Usage("tokens per request: 512, a uniform range 128:2048 (both included), or lognormal:512:0.6 (median, sigma)", "--%s: %v", name, err)
	}
	return l, nil
}

// parseLevels reads --concurrency 1,8,32,128.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, cmdutil.Usage("a comma-separated list of client counts, e.g. --concurrency 1,8,32,128", "--concurrency %q: %q is not a positive number", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseIDs reads --gpu-ids 0,1 (nil: every GPU).
func parseIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, cmdutil.Usage("GPU indices as NVML numbers them, e.g. --gpu-ids 0,1", "--gpu-ids %q: %q is not a GPU index", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// chooseSampler is the simulator's endpoint (--sim-gpus), else NVML; when
// NVML cannot be opened the run samples no memory, said in a warning.
func chooseSampler(c *cli.Command) (nvml.Sampler, []string) {
	if u := c.String("sim-gpus"); u != "" {
		return nvml.SimSampler{BaseURL: strings.TrimRight(u, "/")}, nil
	}
	if strings.EqualFold(c.String("sampler"), "amd") {
		return nvml.AMDSampler{Root: c.String("amd-sysfs")}, nil
	}
	s, err := driver.Open()
	if err != nil {
		return nil, []string{fmt.Sprintf("GPU memory is not sampled (%v): the report has latency and the engine's gauges only; against a simulator pass --sim-gpus URL", err)}
	}
	return s, nil
}

// runError gives a run's error the hint that says what to do next.
func runError(err error) error {
	switch {
	case errors.Is(err, load.ErrPrompt):
		return cmdutil.WithHint(err, "the tokenizer cannot make a prompt of exactly that length from a repeated word: try --input-len one more or less")
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return cmdutil.WithHint(err, "--timeline names a file in a directory that does not exist or cannot be written: give another --timeline, or --timeline \"\"")
	}
	return cmdutil.WithHint(err, "is the server up at --url, and is --engine its engine? (vLLM serves /tokenize, SGLang /v1/tokenize, TGI /tokenize)")
}

// FailuresError is the error that makes the exit code ExitFailures (nil
// without failures).
func FailuresError(fs []load.Failure) error {
	if len(fs) == 0 {
		return nil
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s at %.1f s", f.Kind, f.AtS))
	}
	err := cmdutil.WithHint(fmt.Errorf("load: %d failure(s): %s", len(fs), strings.Join(parts, ", ")), "the failures above say what happened and when; vramcalc plot timeline FILE draws the run")
	return cmdutil.WithExitCode(err, ExitFailures)
}
