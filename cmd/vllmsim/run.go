package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// Exit codes: an uncaught Python exception exits 1
// (docs/ENGINE-SURFACE.md §A3), argparse 2.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// version is what the server reports as its version.
const version = "0.21.0"

// app is one run of the simulated `vllm serve`.
type app struct {
	ctx    context.Context
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	listen func(network, addr string) (net.Listener, error)
	log    *logger
	// watchdog is how often the API server checks for a dead engine (5 s,
	// https://github.com/vllm-project/vllm/blob/v0.21.0/vllm/entrypoints/launcher.py#L144-L166).
	watchdog time.Duration
	// serving, when set, is handed the server once it serves (a test hook).
	serving func(*server)
}

// run plays `vllm serve` and returns its exit code.
func run(ctx context.Context, argv []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ap := &app{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now, listen: net.Listen, watchdog: 5 * time.Second}
	return ap.run(argv)
}

func (ap *app) run(argv []string) int {
	if len(argv) > 0 && argv[0] == "serve" {
		argv = argv[1:] // the image's entrypoint is `vllm serve`
	}
	a, err := parseArgs(argv)
	if err != nil {
		io.WriteString(ap.stderr, err.Error())
		return exitUsage
	}
	env, err := simkit.NewEnv(defaultOverhead, defaultContext, defaultActFactor, ap.now).Load(ap.getenv)
	if err != nil {
		fmt.Fprintf(ap.stderr, "vllmsim: %v\n", err)
		return exitError
	}
	ap.log = newLogger(ap.stdout, ap.now)
	ap.log.info(apiServer, "utils.py", 240, "non-default args: "+nonDefault(a))
	ap.log.info(apiServer, "utils.py", 304, fmt.Sprintf("vLLM server version %s, serving model %s", version, a.Model))
	m, err := simkit.ResolveModel(a.Model, a.Revision, a.DownloadDir, ap.getenv)
	if err != nil {
		return ap.modelFailure(a, err)
	}
	gpus := simkit.NewGPUs(env.GPUName, env.GPUTotal, env.NumGPUs)
	defer simkit.ServeGPUsPort(ap.listen, a.Host, env.GPUsPort, gpus, ap.stderr, "vllmsim")()
	p := simulate(a, m, env)
	if p.Fail == failArgs {
		ap.log.raw(apiServer, traceback([]string{`  File "/usr/local/bin/vllm", line 10, in <module>`, `    sys.exit(main())`}, "ValueError: "+p.Message))
		return exitError
	}
	l := &launch{app: ap, Start: simkit.Start{Ctx: ap.ctx, Env: env, GPUs: gpus, Ranks: p.TP}, args: a, model: m, plan: p}
	if code, ok := l.start(); !ok {
		return code
	}
	return l.serve()
}

// modelFailure is a model the simulator cannot find: as vLLM without
// network, the hub lookup fails and the process exits 1.
func (ap *app) modelFailure(a *Args, err error) int {
	if !errors.Is(err, simkit.ErrModelNotFound) {
		fmt.Fprintf(ap.stderr, "vllmsim: %v\n", err)
		return exitError
	}
	ap.log.raw(apiServer, traceback([]string{`  File "/usr/local/lib/python3.12/dist-packages/huggingface_hub/utils/_http.py", line 409, in hf_raise_for_status`},
		fmt.Sprintf("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: vllmsim)\n\nRepository Not Found for url: https://huggingface.co/api/models/%s/tree/main?recursive=True&expand=False.\nPlease make sure you specified the correct `repo_id` and `repo_type`.\n(vllmsim has no network: %v)", a.Model, err)))
	return exitError
}

// launch is one start from its plan on.
type launch struct {
	*app
	simkit.Start
	args  *Args
	model *simkit.Model
	plan  *plan
}

// start plays the engine core's start: the weights, the profile, the KV
// pool and the CUDA graphs, each with vLLM's lines, or its failure.
func (l *launch) start() (int, bool) {
	p, log, a := l.plan, l.log, l.args
	log.info(engineCore, "core.py", 110, fmt.Sprintf("Initializing a V1 LLM engine (v%s) with config: model='%s', max_seq_len=%d, tensor_parallel_size=%d, kv_cache_dtype=%s, enforce_eager=%s", version, a.Model, p.MaxModelLen, a.TP, a.KVDType, simkit.PyBool(a.EnforceEager)))
	began := l.now()
	l.SetRanks(func(int) int64 { return p.Context })
	if p.Fail == failFreeMemory {
		return l.engineFailed(p.Message), false
	}
	if !l.Step(4) {
		return exitOK, false
	}
	if p.Fail == failLoadOOM {
		log.line(engineCore, "ERROR", "gpu_model_runner.py", 4948, "Failed to load model - not enough GPU memory. Try lowering --gpu-memory-utilization to free memory for weights, increasing --tensor-parallel-size, or using --quantization. See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more tips. (original error: "+p.OOM.Message()+")")
		return l.engineFailed("torch.OutOfMemoryError: " + p.OOM.Message()), false
	}
	l.SetRanks(func(r int) int64 { return p.Context + p.NonTorch[r] + p.Weights })
	loadSecs := l.now().Sub(began).Seconds()
	log.info(engineCore, "default_loader.py", 398, fmt.Sprintf("Loading weights took %.2f seconds", loadSecs))
	log.info(engineCore, "gpu_model_runner.py", 4959, fmt.Sprintf("Model loading took %s GiB memory and %.6f seconds", formatGiB(p.Weights), loadSecs))
	if p.Fail == failProfileOOM {
		l.GPUs.Set(0, p.OOM.InUse)
		return l.engineFailed("torch.OutOfMemoryError: " + p.OOM.Message()), false
	}
	l.SetRanks(func(r int) int64 { return p.Context + p.NonTorch[r] + p.Weights + max(p.Peak, p.GraphEst) })
	if !l.Step(4) {
		return exitOK, false
	}
	return l.sizeKV()
}

// sizeKV logs the budget, then the pool or vLLM's refusal.
func (l *launch) sizeKV() (int, bool) {
	p, log, a := l.plan, l.log, l.args
	log.info(engineCore, "gpu_worker.py", 462, "Available KV cache memory: "+formatGiB(p.Available[0])+" GiB")
	if p.GraphEst > 0 {
		delta := float64(p.GraphEst) / float64(l.Env.GPUTotal)
		log.info(engineCore, "gpu_worker.py", 477, fmt.Sprintf("CUDA graph memory profiling is enabled (default since v0.21.0). The current --gpu-memory-utilization=%.4f is equivalent to --gpu-memory-utilization=%.4f without CUDA graph memory profiling. To maintain the same effective KV cache size as before, increase --gpu-memory-utilization to %.4f. To disable, set VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0.",
			a.Util, roundTo(a.Util-delta, 4), min(roundTo(a.Util+delta, 4), 1)))
	}
	switch p.Fail {
	case failNoKVMemory, failMaxModelLen, failAutoFit:
		return l.engineFailed("ValueError: " + p.Message), false
	}
	if p.AutoFrom > 0 {
		log.info(engineCore, "kv_cache_utils.py", 1862, fmt.Sprintf("Auto-fit max_model_len: reduced from %d to %d to fit in available GPU memory (%s GiB available for KV cache)", p.AutoFrom, p.MaxModelLen, formatGiB(p.Available[0])))
	}
	log.info(engineCore, "kv_cache_utils.py", 1710, "GPU KV cache size: "+commas(p.KVTokens)+" tokens")
	log.info(engineCore, "kv_cache_utils.py", 1711, fmt.Sprintf("Maximum concurrency for %s tokens per request: %.2fx", commas(p.MaxModelLen), p.Concurrency))
	l.SetRanks(func(r int) int64 { return p.Serving(r) - p.GraphActual })
	if !a.EnforceEager {
		if !l.Step(4) {
			return exitOK, false
		}
		if p.Fail == failGraphOOM {
			l.GPUs.Set(p.OOM.GPU, p.OOM.InUse)
			return l.engineFailed("torch.OutOfMemoryError: " + p.OOM.Message()), false
		}
		l.SetRanks(p.Serving)
		log.info(engineCore, "gpu_model_runner.py", 6243, fmt.Sprintf("Graph capturing finished in %.0f secs, took %.2f GiB", l.Env.StartupDelay.Seconds()/4, float64(p.GraphActual)/(1<<30)))
		diff := p.GraphActual - p.GraphEst
		log.info(engineCore, "gpu_worker.py", 621, fmt.Sprintf("CUDA graph pool memory: %s GiB (actual), %s GiB (estimated), difference: %s GiB (%.1f%%).", formatGiB(p.GraphActual), formatGiB(p.GraphEst), formatGiB(diff), 100*float64(diff)/float64(max(p.GraphEst, 1))))
	}
	log.info(engineCore, "core.py", 287, fmt.Sprintf("init engine (profile, create kv cache, warmup model) took %.2f s", l.Env.StartupDelay.Seconds()))
	return exitOK, true
}

// engineFailed is the engine core's start raising: its traceback, the
// API server's RuntimeError, exit code 1 (docs/ENGINE-SURFACE.md §A3).
func (l *launch) engineFailed(exc string) int {
	l.log.line(engineCore, "ERROR", "core.py", 1140, "EngineCore failed to start.")
	l.log.raw(engineCore, traceback(engineFrames, exc))
	l.log.raw(apiServer, traceback([]string{`  File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/utils.py", line 1181, in wait_for_engine_startup`},
		"RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {'EngineCore': 1}"))
	l.SetRanks(func(int) int64 { return 0 })
	return exitError
}

func roundTo(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// commas groups digits by thousands, as Python's f"{n:,}".
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
