package validatecmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/load"
	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/nvml/driver"
	"github.com/vramcalc/vramcalc/probe"
	"github.com/vramcalc/vramcalc/probe/docker"
	"github.com/vramcalc/vramcalc/probe/results"
)

const validateDescription = `Finds the limit you can deploy with real engine containers and proves it: TGI's
--max-total-tokens, vLLM's --max-model-len or SGLang's --context-length (--engine), the other
settings held fixed. The recommended value is one that started on --confirm consecutive fresh
launches. Each launch is read as a correction of the estimate: the KV pool the engine logs (TGI's
"Setting max batch total tokens", vLLM's "GPU KV cache size" or, when it refuses a length, its
"Available KV cache memory", SGLang's max_total_num_tokens), TGI's warm-up NVML peak, what a
failed warm-up says. vLLM and SGLang print their pool on the first launch, so the edge is
usually placed in one or two launches before the confirmations. The recommendation is the
corrected edge less a margin that covers the spread between launches (--margin, or twice the
spread the launches show when larger). A launch that fails at the recommendation moves it down
and the confirmations start over. The result says what was seen: the largest value that
started, the smallest that failed, the recommendation and its confirmations, the spread, and
whether values start on disjoint ranges (TGI's warm-up at the default prefill).

Each launch appends one observation (settings, the engine's reported pool from its log and
metrics, NVML peak per GPU, outcome and failure kind, timings) to --out, fsync'd; --resume skips
points already in it. Containers carry the label vramcalc.run=<id>, publish on loopback
addresses only, get the Hugging Face cache mounted and HF_TOKEN by environment (never logged),
and are removed whatever happens (Ctrl-C included). Requests are token-exact through the
engine's own tokenizer endpoint (TGI /tokenize, vLLM /tokenize, SGLang /v1/tokenize).

  vramcalc validate meta-llama/Llama-3.1-8B-Instruct --gpu-ids 0 --out results.jsonl
  vramcalc validate meta-llama/Llama-3.1-8B-Instruct --engine vllm --gpu-ids 0 --gpu-memory-utilization 0.9 --out vllm.jsonl
  vramcalc validate Qwen/Qwen3-8B --engine sglang --gpu-ids 0,1 --mem-fraction-static 0.85 --out sglang.jsonl
  vramcalc validate meta-llama/Llama-3.1-8B-Instruct --gpu L4 --gpu-ids none --image vramcalc/tgisim:dev --sim-gpus container:9400 --out sim.jsonl

On AMD hosts, --sampler amd reads GPU memory from amdgpu's sysfs files.`

// Command is `vramcalc validate`.
func Command(e cmdutil.Env) *cli.Command {
	return &cli.Command{
		Name:        "validate",
		Usage:       "pin the real boundary with a few TGI, vLLM or SGLang containers at the predicted edge",
		ArgsUsage:   "MODEL",
		Description: validateDescription,
		Flags: append(append(engineFlags(), loadFlags()...), []cli.Flag{
			&cli.StringFlag{Name: "gpu-ids", Value: "all", Usage: "GPUs for the containers: all, none (the simulator) or a list such as 0,1"},
			&cli.StringFlag{Name: "gpu", Usage: "GPU `NAME` for the estimate when NVML cannot tell (vramcalc gpus)"},
			&cli.StringFlag{Name: "vram", Usage: "memory per GPU for the estimate (`SIZE`, as for estimate)"},
			&cli.IntFlag{Name: "gpus", Usage: "GPU count for the estimate; default: the --gpu-ids count or NVML's"},
			&cli.StringFlag{Name: "out", Value: "results.jsonl", Usage: "observations `FILE` (JSONL, appended)"},
			&cli.BoolFlag{Name: "resume", Usage: "skip points already in --out (after a crash or Ctrl-C)"},
			&cli.IntFlag{Name: "confirm", Value: probe.DefaultConfirm, Usage: "fresh launches in a row the recommendation must start on"},
			&cli.StringFlag{Name: "margin", Value: "256MiB", Usage: "GPU memory per GPU kept free for the spread between launches before they show one, a `SIZE` such as 256MiB"},
			&cli.FloatFlag{Name: "tolerance", Value: 0.01, Usage: "take a value that already started up to this fraction below the one wanted"},
			&cli.IntFlag{Name: "max-launches", Value: 12, Usage: "give up after this many launches"},
			&cli.IntFlag{Name: "input-tokens", Value: 512, Usage: "prompt tokens per request once a launch serves"},
			&cli.IntFlag{Name: "output-tokens", Value: 64, Usage: "new tokens per request (≤ 1024)"},
			&cli.IntFlag{Name: "concurrency", HideDefault: true, Usage: "requests at once; default: as many as the reported KV budget holds"},
			&cli.IntFlag{Name: "tolerance-tokens", HideDefault: true, Usage: "generated tokens a response may miss before it counts as wrong length"},
			&cli.BoolFlag{Name: "grammar", Usage: "constrain outputs with a regex so the model cannot end early at EOS"},
			&cli.DurationFlag{Name: "health-timeout", Value: 30 * time.Minute, Usage: "loading plus warm-up limit per launch"},
			&cli.StringFlag{Name: "hf-cache", Usage: "host Hugging Face cache to mount at /data; default: $HF_HOME or ~/.cache/huggingface"},
			&cli.StringSliceFlag{Name: "env", Usage: "extra KEY=VALUE for the container (repeatable)"},
			&cli.StringFlag{Name: "sim-gpus", Usage: "read GPU memory from the simulator's /sim/gpus instead of NVML: at this `URL`, or container:PORT for that port of each launch (published on a free host port)"},
			&cli.StringSliceFlag{Name: "publish", Usage: "also publish a container port as docker -p does: HOST:CONTAINER or IP:HOST:CONTAINER with a loopback IP (repeatable)"},
			&cli.IntFlag{Name: "port", HideDefault: true, Usage: "host `PORT` for the engine's port (TGI's 80, vLLM's 8000, SGLang's 30000); default: the Docker Engine picks a free one"},
			&cli.BoolFlag{Name: "offline", Usage: "never use the network for the model's metadata"},
			cmdutil.TimeoutFlag(),
			&cli.StringFlag{Name: "corrections", Usage: "start from an estimate with fitted corrections from `FILE` (vramcalc calibrate --out)"},
			cmdutil.OutputFlag(),
		}...),
		Action: func(ctx context.Context, c *cli.Command) error { return runValidate(ctx, c, e) },
	}
}

func runValidate(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	if c.NArg() != 1 {
		return &cmdutil.UsageError{Msg: fmt.Sprintf("validate takes one MODEL argument, got %d", c.NArg()), Hint: "vramcalc validate meta-llama/Llama-3.1-8B-Instruct --gpu-ids 0 --out results.jsonl"}
	}
	model := c.Args().First()
	format, err := cmdutil.Format(c)
	if err != nil {
		return err
	}
	v, err := validationInputs(ctx, c, e, model)
	if err != nil {
		return err
	}
	rt, err := docker.New()
	if err != nil {
		return cmdutil.WithHint(err, "validate needs a Docker Engine: start it, or set DOCKER_HOST")
	}
	defer rt.Close()
	v.Launch.Runtime = rt
	spec := engineSpecs[v.Launch.Engine.Name()]
	lr, err := newLoadRun(c, spec.probe.Name())
	if err != nil {
		return err
	}
	if lr != nil {
		v.Hold = lr.hold(&v)
	}
	prog := newValidateProgress(e.Stderr, isTerminal(e.Stderr))
	prog.limit = spec.limit
	v.Launch.Progress = prog.event
	res, err := probe.Validate(ctx, v)
	prog.finish()
	if err != nil {
		return validateError(err, v.Results, spec)
	}
	verr := renderValidation(e, format, model, spec, res, lr)
	if verr != nil || lr == nil {
		return verr
	}
	return heldError(res, lr)
}

// validateError gives err the hint that says what to do next; out is the
// results file (--out), whose own file system errors get theirs.
func validateError(err error, out string, spec engineSpec) error {
	var pe *fs.PathError
	outErr := errors.As(err, &pe) && pe.Path == out
	switch {
	case errors.Is(err, probe.ErrNoEdge):
		return cmdutil.WithHint(err, "run vramcalc estimate for the breakdown; validate needs a predicted edge to probe")
	case errors.Is(err, probe.ErrImageNotFound):
		return cmdutil.WithHint(err, "pull the image first (docker pull), or build the simulator: cmd/"+spec.simulator+"/build-image.sh")
	case errors.Is(err, probe.ErrNoEngine):
		return cmdutil.WithHint(err, "validate needs a Docker Engine: start it, or set DOCKER_HOST")
	case errors.Is(err, results.ErrLocked):
		return cmdutil.WithHint(err, "another vramcalc validate is writing --out: wait for it to end, or give this run another --out")
	case errors.Is(err, results.ErrNotResults):
		return cmdutil.WithHint(err, "--out names a file validate did not write; it was left as it is: give another --out")
	case errors.Is(err, results.ErrCorrupt):
		return cmdutil.WithHint(err, "the file was left as it is: fix or delete that line, or move the file aside and start a new --out")
	case outErr && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)):
		return cmdutil.WithHint(err, "the disk holding --out is full (the file ends with its last whole record): free space, then run again with --resume")
	case outErr && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)):
		return cmdutil.WithHint(err, "--out cannot be written (a read-only file or file system): give an --out in a writable directory")
	case outErr && errors.Is(err, fs.ErrNotExist):
		return cmdutil.WithHint(err, "the directory of --out does not exist: create it, or give another --out")
	case outErr && errors.Is(err, syscall.EISDIR):
		return cmdutil.WithHint(err, "--out is a directory: name a file in it, e.g. --out DIR/results.jsonl")
	}
	return err
}

// validationInputs turns the flags into probe.Validation, all but the
// runtime and the progress display.
func validationInputs(ctx context.Context, c *cli.Command, e cmdutil.Env, model string) (probe.Validation, error) {
	name, spec, err := engineOf(c)
	if err != nil {
		return probe.Validation{}, err
	}
	if out := c.Int("output-tokens"); out <= 0 || (name == "tgi" && out > 1024) {
		return probe.Validation{}, cmdutil.WithHint(fmt.Errorf("--output-tokens must be in 1..1024, got %d", out), "TGI ≥ 3.1.1 validates and generates longer requests in 1024-token chunks")
	}
	gpuIDs, err := parseGPUIDs(c.String("gpu-ids"))
	if err != nil {
		return probe.Validation{}, err
	}
	sampler, simPort, err := validateSampler(c, gpuIDs)
	if err != nil {
		return probe.Validation{}, err
	}
	hw, indices, err := validateHardware(ctx, c, sampler, gpuIDs)
	if err != nil {
		return probe.Validation{}, err
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, model)
	if err != nil {
		return probe.Validation{}, err
	}
	if k := c.Int("confirm"); k < 1 {
		return probe.Validation{}, cmdutil.WithHint(fmt.Errorf("--confirm must be at least 1, got %d", k), "the default 3 means three fresh starts in a row")
	}
	margin, _, err := gpus.ParseVRAM(c.String("margin"))
	if err != nil {
		return probe.Validation{}, cmdutil.WithHint(fmt.Errorf("--margin: %w", err), "a size such as 256MiB or 1GiB")
	}
	settings := engineSettings(c, name)
	image, version := spec.imageAndVersion(c)
	if path := c.String("corrections"); path != "" {
		corr, _, err := cmdutil.LoadCorrections(path, estimate.Engine{Name: name, Version: version}, hw)
		if err != nil {
			return probe.Validation{}, err
		}
		settings.Corrections = &corr
	}
	launch, err := launchConfig(c, e, model)
	if err != nil {
		return probe.Validation{}, err
	}
	launch.Engine, launch.Image = spec.probe, image
	if launch.Requests.Image, err = requestImage(c); err != nil {
		return probe.Validation{}, err
	}
	launch.Sampler, launch.SimGPUsPort, launch.GPUIndices, launch.GPUIDs = sampler, simPort, indices, gpuIDs
	return probe.Validation{Model: meta.Model, Hardware: hw, EngineVersion: version, Settings: settings,
		Tolerance: c.Float("tolerance"), Confirm: int(c.Int("confirm")), Margin: int64(margin), MaxLaunches: int(c.Int("max-launches")), Results: c.String("out"), Resume: c.Bool("resume"),
		Launch: launch}, nil
}

// validateSampler reads GPU memory from the simulator's endpoint (a URL,
// or the container port of each launch), NVML, or nothing (no GPU
// requested). NVML that cannot be opened is kept as nvml.Unopened, so that
// each launch records why it has no peak.
func validateSampler(c *cli.Command, gpuIDs []string) (nvml.Sampler, int, error) {
	if u := c.String("sim-gpus"); u != "" {
		if rest, ok := strings.CutPrefix(u, "container:"); ok {
			port, err := strconv.Atoi(rest)
			if err != nil || port <= 0 || port > 65535 {
				return nil, 0, cmdutil.WithHint(fmt.Errorf("--sim-gpus %q: %q is not a container port", u, rest), "e.g. --sim-gpus container:9400 (the image's SIM_GPUS_PORT)")
			}
			return nil, port, nil
		}
		return &nvml.SimSampler{BaseURL: strings.TrimRight(u, "/")}, 0, nil
	}
	if gpuIDs == nil {
		return nil, 0, nil
	}
	if hs, ok, err := hostSampler(c); ok || err != nil {
		return hs, 0, err
	}
	s, err := driver.Open()
	switch {
	case errors.Is(err, nvml.ErrUnavailable):
		return nvml.Unopened{Err: err}, 0, nil
	case err != nil:
		return nil, 0, err
	}
	return s, 0, nil
}

// parsePublish reads docker's -p syntax, HOST:CONTAINER or
// IP:HOST:CONTAINER (IPv6 in brackets), with an optional /tcp. The IP
// must be loopback; an empty HOST lets the engine pick a free port.
func parsePublish(s string) (probe.PortBinding, error) {
	bad := func(why string) (probe.PortBinding, error) {
		return probe.PortBinding{}, cmdutil.WithHint(fmt.Errorf("--publish %q: %s", s, why), "docker's order: HOST:CONTAINER or 127.0.0.1:HOST:CONTAINER, e.g. --publish 9400:9400")
	}
	spec, proto, _ := strings.Cut(s, "/")
	if proto != "" && proto != "tcp" {
		return bad("only tcp ports can be published")
	}
	rest, containerS, ok := cutLast(spec, ":")
	if !ok {
		return bad("want HOST:CONTAINER")
	}
	ipS, hostS, _ := cutLast(rest, ":")
	var b probe.PortBinding
	if ipS != "" {
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ipS, "["), "]"))
		if err != nil || !ip.IsLoopback() {
			return bad(fmt.Sprintf("%s is not a loopback address (containers publish on this machine only)", ipS))
		}
		b.HostIP = ip
	}
	var err error
	if b.ContainerPort, err = strconv.Atoi(containerS); err != nil || b.ContainerPort <= 0 || b.ContainerPort > 65535 {
		return bad(fmt.Sprintf("container port %q is not in 1..65535", containerS))
	}
	if hostS != "" {
		if b.HostPort, err = strconv.Atoi(hostS); err != nil || b.HostPort <= 0 || b.HostPort > 65535 {
			return bad(fmt.Sprintf("host port %q is not in 1..65535", hostS))
		}
	}
	return b, nil
}

// cutLast slices s around the last sep ("", s, false when there is none).
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}

// launchConfig is how each point's container starts: image, engine, model,
// environment, the token, the cache, extra ports and the requests.
func launchConfig(c *cli.Command, e cmdutil.Env, model string) (probe.Config, error) {
	cfg := probe.Config{Model: model,
		Env: append([]string{"HF_HOME=/data"}, c.StringSlice("env")...), HealthTimeout: c.Duration("health-timeout"),
		Requests: probe.RequestPlan{InputTokens: int(c.Int("input-tokens")), OutputTokens: int(c.Int("output-tokens")), Concurrency: int(c.Int("concurrency")),
			Tolerance: int(c.Int("tolerance-tokens")), Grammar: c.Bool("grammar")}}
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return cfg, cmdutil.WithHint(fmt.Errorf("--port %d is not a port", port), "give a free host port in 1..65535, or leave --port out for a free one")
	}
	cfg.EngineHostPort = int(port)
	for _, pub := range c.StringSlice("publish") {
		b, err := parsePublish(pub)
		if err != nil {
			return cfg, err
		}
		cfg.ExtraPorts = append(cfg.ExtraPorts, b)
	}
	if tok := cmdutil.HFToken(e.Getenv); tok != "" {
		cfg.Secrets = map[string]string{"HF_TOKEN": tok}
	}
	if cache := hfCacheDir(c, e); cache != "" {
		cfg.Mounts = []probe.Mount{{Source: cache, Target: "/data"}}
	}
	return cfg, nil
}

// validateProgress shows a run's events on stderr: on a terminal, a
// spinner with the current launch and phase; elsewhere (CI logs, pipes)
// one plain line per event, with no spinner frames or carriage returns.
// Pulls, cleanups and warnings are lines in both.
type validateProgress struct {
	w io.Writer
	// limit is the engine's flag for the value searched.
	limit string
	// bar is nil when w is not a terminal.
	bar *progressbar.ProgressBar
}

func newValidateProgress(w io.Writer, terminal bool) *validateProgress {
	p := &validateProgress{w: w, limit: "--max-total-tokens"}
	if terminal {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSpinnerType(14),
			progressbar.OptionSetDescription("validate"), progressbar.OptionClearOnFinish())
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *validateProgress) event(ev probe.Event) {
	launch := fmt.Sprintf("launch %d: %s %s: ", ev.Launch, p.limit, cmdutil.Num(ev.Point.MaxTotalTokens))
	switch ev.Kind {
	case probe.EventPhase:
		if p.bar != nil {
			p.bar.Describe(launch + ev.Phase)
			_ = p.bar.Add(1)
			return
		}
		p.line(launch + ev.Phase)
	case probe.EventObserved:
		if p.bar == nil {
			p.line(launch + outcomeText(*ev.Observation))
		}
	case probe.EventPull:
		p.line("pulling " + ev.Image)
	case probe.EventCleanup:
		p.line("removed container " + shortID(ev.Container) + ", left by the interrupted run")
	case probe.EventWarning:
		p.line("warning: " + ev.Warning)
	}
}

// line prints one line, clearing the spinner first.
func (p *validateProgress) line(s string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

func (p *validateProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// outcomeText is "ok, KV budget 22,460" or "failed: warmup_oom".
func outcomeText(o probe.Observation) string {
	switch {
	case !o.OK():
		return "failed: " + o.Failure
	case o.Budget() > 0:
		return "ok, KV budget " + cmdutil.Num(o.Budget())
	}
	return "ok"
}

func shortID(id string) string { return id[:min(len(id), 12)] }

// ErrNotConfirmed: the search ended (--max-launches) before the
// recommendation started on --confirm launches in a row.
var ErrNotConfirmed = errors.New("validate: no recommendation confirmed")

// renderValidation shows what was seen and what is recommended, then
// reconciles, per component, the estimate, the engine's own log and
// metrics, and NVML. A recommendation that is not confirmed is shown and
// is an error (exit 1).
func renderValidation(e cmdutil.Env, format, model string, spec engineSpec, res probe.Result, lr *loadRun) error {
	edge := res.Edge
	var err error
	if !edge.Confirmed {
		hint := "raise --max-launches and run again with --resume: the launches already made are kept"
		if edge.NotTheLimit {
			hint = "the engine ran out of memory outside its KV pool whatever " + spec.limit + ": lower " + spec.fraction + " and run again with another --out"
		}
		err = cmdutil.WithHint(fmt.Errorf("%w: %s", ErrNotConfirmed, notConfirmedText(edge, spec)), hint)
	}
	switch format {
	case cmdutil.FormatJSON:
		v := newValidationJSON(model, spec, res)
		if lr != nil {
			v.Load = lr.report
		}
		if werr := cmdutil.JSON(e.Stdout, v); werr != nil {
			return werr
		}
		return err
	case cmdutil.FormatCSV:
		if werr := observationRows(edge.Observations, spec).Write(e.Stdout, format); werr != nil {
			return werr
		}
		return err
	}
	if werr := renderText(e, format, model, spec, res); werr != nil {
		return werr
	}
	if werr := renderLoad(e, format, res, lr); werr != nil {
		return werr
	}
	return err
}

func notConfirmedText(edge probe.Edge, spec engineSpec) string {
	if edge.Recommended.MaxTotalTokens == 0 {
		return fmt.Sprintf("no value to recommend after %d launches", edge.Launches)
	}
	return fmt.Sprintf("%s %d started on %d of %d launches after %d launches in all", spec.limit, edge.Recommended.MaxTotalTokens, edge.Started, edge.Tried, edge.Launches)
}

// renderText is the table output: the verdict, the notes, one row per
// launch, and the estimate against the measurements.
func renderText(e cmdutil.Env, format, model string, spec engineSpec, res probe.Result) error {
	edge := res.Edge
	fmt.Fprintf(e.Stdout, "%s: %s\n", model, verdictText(edge, spec))
	fmt.Fprintf(e.Stdout, "seen in %d launches (run %s): %s\n", edge.Launches, res.RunID, seenText(edge))
	for _, n := range edge.Notes {
		fmt.Fprintln(e.Stdout, "note: "+n)
	}
	if err := observationRows(edge.Observations, spec).Write(e.Stdout, format); err != nil {
		return err
	}
	zero := res.Estimate
	if rows := reconcile(res); rows != nil {
		fmt.Fprintln(e.Stdout)
		if err := reconRows(rows, spec).Write(e.Stdout, format); err != nil {
			return err
		}
	}
	fmt.Fprintln(e.Stdout)
	return cmdutil.Rows{Header: []string{"", "estimate", "measured"}, Rows: [][]string{
		{spec.limit + ": the estimate's edge, the largest that started", cmdutil.Num(zero.Boundary.MaxTotalTokens), cmdutil.Num(edge.Lo)},
		{"default " + spec.prefill, cmdutil.Num(zero.Startup.MaxBatchPrefillTokens), cmdutil.Num(res.Plan.Prefill)},
	}}.Write(e.Stdout, format)
}

// verdictText is the recommendation and its evidence in one line.
func verdictText(edge probe.Edge, spec engineSpec) string {
	r := edge.Recommended
	if r.MaxTotalTokens == 0 {
		return "no recommendation"
	}
	prefill := ""
	if r.MaxBatchPrefillTokens > 0 {
		prefill = " " + spec.prefill + " " + strconv.Itoa(r.MaxBatchPrefillTokens)
	}
	status := fmt.Sprintf("started on %d of %d fresh launches in a row", edge.Started, edge.Tried)
	if !edge.Confirmed {
		status = fmt.Sprintf("NOT CONFIRMED: started on %d of %d launches", edge.Started, edge.Tried)
	} else if edge.Started < edge.Tried {
		status = fmt.Sprintf("started on %d of %d launches, confirmed by the last ones in a row", edge.Started, edge.Tried)
	}
	at := ""
	if edge.AtCap && r.MaxTotalTokens == edge.Lo {
		at = " (the model's context: memory is not the limit)"
	}
	limits := fmt.Sprintf("%s %d", spec.limit, r.MaxTotalTokens)
	if spec.limit == "--max-total-tokens" {
		limits = fmt.Sprintf("--max-input-tokens %d --max-total-tokens %d", r.MaxInputTokens, r.MaxTotalTokens)
	}
	return fmt.Sprintf("recommended %s%s%s: %s", limits, prefill, at, status)
}

// seenText is the largest start, the smallest failure and the spread.
func seenText(edge probe.Edge) string {
	parts := []string{"largest start " + orNone(edge.Lo), "smallest failure " + orNone(edge.Hi)}
	if edge.SpreadBytes > 0 {
		parts = append(parts, fmt.Sprintf("spread between launches %.0f MiB per GPU", float64(edge.SpreadBytes)/(1<<20)))
	}
	if edge.Fragmented {
		parts = append(parts, "starts on disjoint ranges")
	}
	return strings.Join(parts, ", ")
}

func orNone(n int) string {
	if n == 0 {
		return "none"
	}
	return cmdutil.Num(n)
}

// validationJSON is validate's -o json: one object, the fields scripts
// rely on first.
type validationJSON struct {
	Model string `json:"model"`
	// Engine is tgi, vllm or sglang; LimitFlag the engine's flag that
	// max_total_tokens stands for (--max-model-len, --context-length).
	Engine          string              `json:"engine"`
	LimitFlag       string              `json:"limit_flag"`
	RunID           string              `json:"run_id"`
	Recommended     *recommendedJSON    `json:"recommended"`
	Confirmed       bool                `json:"confirmed"`
	Confirmations   confirmationsJSON   `json:"confirmations"`
	LargestStart    int                 `json:"largest_start"`
	SmallestFailure int                 `json:"smallest_failure"`
	Launches        int                 `json:"launches"`
	SpreadBytes     int64               `json:"spread_bytes"`
	Spread          bool                `json:"spread"`
	Fragmented      bool                `json:"fragmented"`
	Ranges          []probe.Range       `json:"ranges"`
	AtCap           bool                `json:"at_model_context"`
	Notes           []string            `json:"notes"`
	Predicted       int                 `json:"predicted_max_total_tokens"`
	Prefill         int                 `json:"max_batch_prefill_tokens"`
	Observations    []probe.Observation `json:"observations"`
	// Reconciliation is, per memory component, the estimate at the
	// recommendation, the engine's log and NVML (empty without a start).
	Reconciliation []reconRow `json:"reconciliation"`
	// Load is validate --load's report (absent without --load).
	Load *load.Report `json:"load,omitempty"`
}

type recommendedJSON struct {
	MaxInputTokens        int `json:"max_input_tokens"`
	MaxTotalTokens        int `json:"max_total_tokens"`
	MaxBatchPrefillTokens int `json:"max_batch_prefill_tokens"`
}

type confirmationsJSON struct {
	Tried   int `json:"tried"`
	Started int `json:"started"`
}

func newValidationJSON(model string, spec engineSpec, res probe.Result) validationJSON {
	edge := res.Edge
	v := validationJSON{Model: model, Engine: spec.probe.Name(), LimitFlag: spec.limit, RunID: res.RunID, Confirmed: edge.Confirmed, Confirmations: confirmationsJSON{Tried: edge.Tried, Started: edge.Started},
		LargestStart: edge.Lo, SmallestFailure: edge.Hi, Launches: edge.Launches, SpreadBytes: edge.SpreadBytes, Spread: edge.Spread,
		Fragmented: edge.Fragmented, Ranges: cmdutil.NonNil(edge.Ranges), AtCap: edge.AtCap, Notes: cmdutil.NonNil(edge.Notes),
		Predicted: res.Plan.Predicted, Prefill: res.Plan.Prefill, Observations: cmdutil.NonNil(edge.Observations), Reconciliation: cmdutil.NonNil(reconcile(res))}
	if r := edge.Recommended; r.MaxTotalTokens > 0 {
		v.Recommended = &recommendedJSON{MaxInputTokens: r.MaxInputTokens, MaxTotalTokens: r.MaxTotalTokens, MaxBatchPrefillTokens: r.MaxBatchPrefillTokens}
	}
	return v
}

// observationRows is one row per launch: the estimate beside what TGI and
// NVML reported.
func observationRows(obs []probe.Observation, spec engineSpec) cmdutil.Rows {
	t := cmdutil.Rows{Header: []string{spec.limit, "outcome", "KV budget: estimate", spec.log, "gauge", "warm-up GiB: estimate", "NVML peak"}}
	for _, o := range obs {
		peak := ""
		if p := o.MaxPeak(); p > 0 {
			peak = cmdutil.GiB(int64(p))
		}
		// vLLM and SGLang are sized from the pool they report, not a
		// predicted warm-up: no figure rather than a 0.00.
		warm := ""
		if o.Predicted.WarmupBytes > 0 {
			warm = cmdutil.GiB(o.Predicted.WarmupBytes)
		}
		status := o.Outcome
		if o.Failure != "" {
			status += ": " + o.Failure
		}
		t.Rows = append(t.Rows, []string{cmdutil.Num(o.Point.MaxTotalTokens), status, cmdutil.Num(o.Predicted.MaxBatchTotalTokens), cmdutil.Num(max(o.Reported.MaxBatchTotalTokensLog, o.Reported.KVTokens)),
			cmdutil.Num(o.Reported.MaxBatchTotalTokensMetric), warm, peak})
	}
	return t
}

func parseGPUIDs(s string) ([]string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "":
		return nil, nil
	case "all":
		return []string{"all"}, nil
	}
	var ids []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if _, err := strconv.Atoi(p); err != nil && !strings.HasPrefix(p, "GPU-") {
			return nil, cmdutil.WithHint(fmt.Errorf("--gpu-ids: %q is not a GPU index or UUID", p), "use all, none, or a list such as 0,1")
		}
		ids = append(ids, p)
	}
	return ids, nil
}

// validateHardware takes the GPU from --gpu/--vram, else from the sampler's
// devices (their catalog entry when NVML's name is known).
func validateHardware(ctx context.Context, c *cli.Command, s nvml.Sampler, ids []string) (estimate.Hardware, []int, error) {
	var devs []nvml.Device
	if s != nil {
		devs, _ = s.Devices(ctx)
	}
	n := int(c.Int("gpus"))
	var indices []int
	switch {
	case len(ids) > 0 && ids[0] != "all":
		for _, id := range ids {
			if i, err := strconv.Atoi(id); err == nil {
				indices = append(indices, i)
			}
		}
		n = max(n, len(ids))
	default:
		for _, d := range devs {
			indices = append(indices, d.Index)
		}
		n = max(n, len(devs))
	}
	n = max(n, 1)
	if len(indices) == 0 {
		// The sampler may not answer yet (the simulator serves /sim/gpus only
		// once a container runs): watch devices 0 … n−1.
		for i := range n {
			indices = append(indices, i)
		}
	}
	if c.String("gpu") != "" || c.String("vram") != "" {
		hw, err := cmdutil.GPUFrom(c.String("gpu"), c.String("vram"), n)
		return hw.Hardware, indices, err
	}
	if len(devs) == 0 {
		return estimate.Hardware{}, nil, &cmdutil.UsageError{Msg: "no GPU to estimate for: NVML is unavailable and neither --gpu nor --vram is given", Hint: "pass --gpu NAME (vramcalc gpus) or --vram SIZE"}
	}
	d := devs[0]
	gpu := estimate.GPU{Name: d.Name, TotalBytes: estimate.Bytes(d.Total)}
	if sku, err := gpus.Lookup(d.Name); err == nil {
		gpu = sku.GPU
	}
	return estimate.Hardware{GPU: gpu, Count: n}, indices, nil
}

func hfCacheDir(c *cli.Command, e cmdutil.Env) string {
	if d := c.String("hf-cache"); d != "" {
		return d
	}
	if d := e.Getenv("HF_HOME"); d != "" {
		return d
	}
	if h := e.Getenv("HOME"); h != "" {
		d := filepath.Join(h, ".cache", "huggingface")
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return ""
}

// Root is the vramcalc-validate program, which `vramcalc validate` runs.
func Root(e cmdutil.Env) *cli.Command {
	c := Command(e)
	c.Name = "vramcalc validate"
	return cmdutil.Prepare(c, e)
}
