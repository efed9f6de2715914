package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// Exit codes: TGI's launcher exits 1 on any LauncherError, clap 2 on a
// command-line error.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app is one run of the simulated launcher.
type app struct {
	ctx    context.Context
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	log    *logger
	// listen opens the webserver's socket (a test hook).
	listen func(network, addr string) (net.Listener, error)
	// gpusHook, when set, is handed the launch's simulated GPU memory (a
	// test hook: an in-process sampler).
	gpusHook func(*simkit.GPUs)
}

// run plays TGI's launcher: it prints what text-generation-launcher, the
// shards and the router print, and returns the launcher's exit code.
func run(ctx context.Context, argv []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now, listen: net.Listen}
	return a.run(argv)
}

func (ap *app) run(argv []string) int {
	l, code := ap.prepare(argv)
	if l == nil {
		return code
	}
	// Again last, so that the line is in the tail of any log.
	defer l.echoEnv()
	defer simkit.ServeGPUsPort(ap.listen, l.args.Hostname, l.env.GPUsPort, l.gpus, ap.stderr, "tgisim")()
	if code, ok := l.download(); !ok {
		return code
	}
	l.st = simulate(l.args, l.model, l.env, l.plan)
	for _, phase := range []func() (int, bool){l.startShards, l.warmUp, l.startRouter} {
		if code, ok := phase(); !ok {
			return code
		}
	}
	return l.serve()
}

// launch is one start of the simulated launcher, from its plan on.
type launch struct {
	*app
	args  *Args
	env   simEnv
	model *simkit.Model // nil: not found, the download fails
	plan  *launchPlan
	st    *startup // the ground truth, from simulate
	gpus  *simkit.GPUs
}

// prepare parses the command line and the simulator's environment, logs
// the Args, finds the model and plans the launch. A nil launch means the
// launcher exits with the code.
func (ap *app) prepare(argv []string) (*launch, int) {
	args, err := parseArgs(argv, ap.getenv)
	if err != nil {
		var help *helpRequest
		if errors.As(err, &help) {
			io.WriteString(ap.stdout, help.text)
			return nil, exitOK
		}
		io.WriteString(ap.stderr, err.Error())
		return nil, exitUsage
	}
	env, err := loadSimEnv(ap.getenv, ap.now)
	if err != nil {
		fmt.Fprintf(ap.stderr, "tgisim: %v\n", err)
		return nil, exitError
	}
	ap.log = &logger{w: ap.stdout, now: ap.now}
	ap.log.info(args.debugString())
	(&launch{app: ap, env: env}).echoEnv()

	model, merr := resolveModel(args, ap.getenv)
	if merr != nil && !errors.Is(merr, simkit.ErrModelNotFound) {
		fmt.Fprintf(ap.stderr, "tgisim: %v\n", merr)
		return nil, exitError
	}
	lp, lines, err := planLaunch(args, model, env)
	ap.log.all(lines)
	if err != nil {
		fmt.Fprintln(ap.stderr, err.Error())
		return nil, exitError
	}
	l := &launch{app: ap, args: args, env: env, model: model, plan: lp, gpus: simkit.NewGPUs(env.GPU.Name, env.GPU.Total, env.GPU.Count)}
	if ap.gpusHook != nil {
		ap.gpusHook(l.gpus)
	}
	return l, exitOK
}

// setGPUs sets every rank's memory in use to what of reads from its rankMemory.
func (l *launch) setGPUs(of func(rankMemory) int64) {
	for r := range l.plan.NumShard {
		l.gpus.Set(r, of(l.st.Ranks[r]))
	}
}

// download: nothing to fetch when the description is local.
func (l *launch) download() (int, bool) {
	l.log.print(logLine{level: "INFO", span: "download", target: launcherTarget, msg: "Starting check and download process for " + l.args.ModelID})
	if l.model == nil {
		l.log.error("Download encountered an error: \n" + downloadTraceback(l.args.ModelID))
		fmt.Fprintln(l.stderr, "Error: DownloadError")
		return exitError, false
	}
	l.log.info("Files are already present on the host. Skipping download.")
	l.log.print(logLine{level: "INFO", span: "download", target: launcherTarget, msg: "Successfully downloaded weights for " + l.args.ModelID})
	return exitOK, true
}

// startShards: the CUDA context first, then the weights, until every
// shard is ready and the router starts warming up.
func (l *launch) startShards() (int, bool) {
	st, ws, log := l.st, l.plan.NumShard, l.log
	start := l.now()
	for r := range ws {
		log.shard("INFO", r, "Starting shard")
	}
	if st.Failure == failShardInit {
		l.sleep(l.env.StartupDelay / 4)
		return l.shardCannotStart(st, ws, initTraceback(st.Message)), false
	}
	l.setGPUs(func(rm rankMemory) int64 { return rm.Context })
	log.info("Using prefix caching = " + simkit.PyBool(l.plan.PrefixCaching == "1" || strings.EqualFold(l.plan.PrefixCaching, "true")))
	log.info("Using Attention = " + l.plan.Attention)
	if !l.sleep(l.env.StartupDelay / 2) {
		return l.interrupted(ws, l.gpus), false
	}
	l.setGPUs(rankMemory.Loaded)
	if st.Failure == failLoadOOM {
		l.gpus.Set(st.FailRank, st.OOM.InUse)
		return l.shardCannotStart(st, ws, initTraceback(st.Message)), false
	}
	log.info("Using prefill chunking = " + simkit.PyBool(st.Chunking))
	for r := range ws {
		log.info(fmt.Sprintf("Server started at unix://%s-%d", l.args.raw["shard_uds_path"], r))
	}
	for r := range ws {
		log.shard("INFO", r, "Shard ready in "+l.now().Sub(start).Round(time.Microsecond).String())
	}
	log.info("Starting Webserver")
	log.router("INFO", "text_generation_router_v3", "backends/v3/src/lib.rs", 125, "Warming up model")
	return exitOK, true
}

// warmUp: the warm-up batch's KV, then the prefill's peak, then the KV
// pool and the CUDA graphs the shards keep.
func (l *launch) warmUp() (int, bool) {
	st, log := l.st, l.log
	if st.Failure == failKVAllocOOM || st.Failure == failPrefillOOM {
		return l.warmUpOOM(), false
	}
	l.setGPUs(rankMemory.WarmupPeak)
	if !l.sleep(l.env.StartupDelay / 2) {
		return l.interrupted(l.plan.NumShard, l.gpus), false
	}
	log.info(fmt.Sprintf("KV-cache blocks: %d, size: %d", st.Ranks[0].NumBlocks, l.plan.BlockSize))
	if len(l.plan.CUDAGraphs) > 0 {
		log.info("Cuda Graphs are enabled for sizes " + simkit.PyInts(l.plan.CUDAGraphs))
	} else {
		log.info("Cuda Graphs are disabled (CUDA_GRAPHS=None).")
	}
	total := l.env.GPU.Total
	for r := range l.plan.NumShard {
		rm := st.Ranks[r]
		l.gpus.Set(r, rm.Serving())
		if rm.GraphOOM {
			oom := simkit.TorchOOM{Request: simkit.AllocRound(int64(l.plan.CUDAGraphs[0]) * int64(l.model.Vocab) * 4), Total: total, Free: max(0, total-rm.Serving()), InUse: rm.Serving(), Allocated: rm.Weights + rm.Pool}
			log.error("Decode cuda graph warmup failed\n" + graphOOMTraceback(oomMessage(oom, r)))
		}
	}
	return exitOK, true
}

// warmUpOOM is the warm-up running out of memory: in the KV allocation
// itself or in the prefill.
func (l *launch) warmUpOOM() int {
	st, ws, lp := l.st, l.plan.NumShard, l.plan
	warmSpan := fmt.Sprintf("warmup{max_input_length=%s max_prefill_tokens=%d max_total_tokens=%s max_batch_size=%s}:warmup", rustOpt(lp.MaxInputTokens), lp.Prefill, rustOpt(lp.MaxTotalTokens), rustOpt(l.args.MaxBatchSize))
	l.setGPUs(func(rm rankMemory) int64 { return rm.Loaded() + rm.WarmKV })
	oom := oomMessage(st.OOM, st.FailRank)
	if st.Failure == failKVAllocOOM {
		l.gpus.Set(st.FailRank, st.OOM.InUse)
		l.sleep(l.env.StartupDelay / 4)
		l.log.error("Method Warmup encountered an error.\n" + kvAllocTraceback(oom, st.Message))
		// Not a RuntimeError: the shard stays up
		// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/interceptor.py#L29-L31).
		msg := strings.TrimPrefix(st.Message, "UnboundLocalError: ")
		return l.webserverCrashed(ws, l.gpus, warmSpan, msg, -1)
	}
	l.sleep(l.env.StartupDelay / 4)
	l.log.error("Method Warmup encountered an error.\n" + prefillOOMTraceback(oom, st.Message))
	msg := strings.TrimPrefix(st.Message, "RuntimeError: ")
	// A RuntimeError stops the shard's server, so its process exits.
	return l.webserverCrashed(ws, l.gpus, warmSpan, msg, st.FailRank)
}

// startRouter: the router reads the warm-up's budget and checks its
// arguments against it.
func (l *launch) startRouter() (int, bool) {
	st, ws, log := l.st, l.plan.NumShard, l.log
	if l.args.MaxBatchTotalTokens != nil {
		log.router("WARN", "text_generation_router_v3", "backends/v3/src/lib.rs", 90, "`--max-batch-total-tokens` is deprecated for Flash Attention models.")
		log.router("WARN", "text_generation_router_v3", "backends/v3/src/lib.rs", 94, fmt.Sprintf("Inferred max batch total tokens: %d", st.MaxBatchTotalTokens))
	}
	if st.Failure == failNotEnoughMemory {
		log.raw("Error: " + st.Message)
		return l.webserverFailed(ws, l.gpus, -1), false
	}
	log.router("INFO", "text_generation_router_v3", "backends/v3/src/lib.rs", 137, fmt.Sprintf("Setting max batch total tokens to %d", st.MaxBatchTotalTokens))
	log.router("INFO", "text_generation_router_v3", "backends/v3/src/lib.rs", 166, "Using backend V3")
	if st.AutoInput {
		log.router("INFO", "text_generation_router_v3", "backends/v3/src/main.rs", 168, fmt.Sprintf("Maximum input tokens defaulted to %d", st.MaxInputTokens))
	}
	if st.AutoTotal {
		log.router("INFO", "text_generation_router_v3", "backends/v3/src/main.rs", 174, fmt.Sprintf("Maximum total tokens defaulted to %d", st.MaxTotalTokens))
	}
	if st.Failure == failRouterArgs {
		log.raw((&argumentValidation{st.Message}).Error())
		return l.webserverFailed(ws, l.gpus, -1), false
	}
	if l.args.MaxBatchSize != nil && *l.args.MaxBatchSize == 0 {
		log.raw((&argumentValidation{"`max_batch_size` must be > 0"}).Error())
		return l.webserverFailed(ws, l.gpus, -1), false
	}
	return exitOK, true
}

// serve runs the webserver until the launcher is asked to stop, then
// shuts it down gracefully.
func (l *launch) serve() int {
	ws, log := l.plan.NumShard, l.log
	srv := newServer(l.args, l.model, l.st, l.gpus, l.env.TokenDelay)
	ln, err := l.listen("tcp", net.JoinHostPort(l.args.Hostname, strconv.Itoa(l.args.Port)))
	if err != nil {
		log.raw(fmt.Sprintf("Error: WebServer(Axum(%s))", rustDebugString(err.Error())))
		return l.webserverFailed(ws, l.gpus, -1)
	}
	// In-flight requests are cancelled at shutdown (a queued request that
	// can never be admitted would otherwise hold the graceful stop).
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return reqCtx }}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.router("INFO", "text_generation_router::server", "router/src/server.rs", 2302, "Connected")
	l.echoEnv()

	select {
	case <-l.ctx.Done():
	case err := <-served:
		log.raw(fmt.Sprintf("Error: WebServer(Axum(%s))", rustDebugString(err.Error())))
		return l.webserverFailed(ws, l.gpus, -1)
	}
	// Graceful termination (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2014-L2036,
	// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2350-L2360).
	log.info("Terminating webserver")
	log.info("Waiting for webserver to gracefully shutdown")
	log.router("INFO", "text_generation_router::server", "router/src/server.rs", 2399, "signal received, starting graceful shutdown")
	cancelRequests()
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(l.args.GracefulTimeout)*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	log.info("webserver terminated")
	l.shutdownShards(ws, l.gpus, -1)
	return exitOK
}

// sleep waits d, or returns false when the launcher is asked to stop.
func (ap *app) sleep(d time.Duration) bool {
	if d <= 0 {
		return ap.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ap.ctx.Done():
		return false
	}
}

// interrupted is a SIGTERM/SIGINT before the webserver runs: the launcher
// stops its shards and exits 0.
func (ap *app) interrupted(ws int, gpus *simkit.GPUs) int {
	ap.shutdownShards(ws, gpus, -1)
	return exitOK
}

// shardCannotStart: a shard process exits before it is ready
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1207-L1222,
// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1676-L1680).
func (ap *app) shardCannotStart(st *startup, ws int, traceback string) int {
	log := ap.log
	msg := st.Message
	if st.Failure == failLoadOOM {
		msg = "torch.OutOfMemoryError: " + oomMessage(st.OOM, st.FailRank)
		traceback = initTraceback(msg)
	}
	log.error("Error when initializing model\n" + traceback)
	log.shard("ERROR", st.FailRank, "Shard complete standard error output:\n\n"+traceback)
	log.error(fmt.Sprintf("Shard %d failed to start", st.FailRank))
	log.info("Shutting down shards")
	for r := range ws {
		if r != st.FailRank {
			log.shard("INFO", r, "Terminating shard")
			log.shard("INFO", r, "Waiting for shard to gracefully shutdown")
			log.shard("INFO", r, "shard terminated")
		}
	}
	fmt.Fprintln(ap.stderr, "Error: ShardCannotStart")
	return exitError
}

// webserverCrashed is the router failing its warm-up: the client error
// line, the router's exit error, then the launcher's shutdown.
func (ap *app) webserverCrashed(ws int, gpus *simkit.GPUs, span, msg string, exitedRank int) int {
	ap.log.print(logLine{level: "ERROR", span: span, target: "text_generation_router_v3::client", file: "backends/v3/src/client/mod.rs", line: 45, msg: "Server error: " + msg})
	ap.log.raw(fmt.Sprintf("Error: Backend(Warmup(Generation(%s)))", rustDebugString(msg)))
	return ap.webserverFailed(ws, gpus, exitedRank)
}

// webserverFailed: the router exited; the launcher stops the shards and
// exits with WebserverFailed (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2340-L2345).
func (ap *app) webserverFailed(ws int, gpus *simkit.GPUs, exitedRank int) int {
	ap.log.error("Webserver Crashed")
	ap.shutdownShards(ws, gpus, exitedRank)
	fmt.Fprintln(ap.stderr, "Error: WebserverFailed")
	return exitError
}

// shutdownShards stops every shard; exitedRank already exited on its own.
func (ap *app) shutdownShards(ws int, gpus *simkit.GPUs, exitedRank int) {
	ap.log.info("Shutting down shards")
	for r := range ws {
		if r == exitedRank {
			ap.log.shard("ERROR", r, "Shard complete standard error output:\n")
		} else {
			ap.log.shard("INFO", r, "Terminating shard")
			ap.log.shard("INFO", r, "Waiting for shard to gracefully shutdown")
			ap.log.shard("INFO", r, "shard terminated")
		}
		gpus.Set(r, 0)
	}
}

func downloadTraceback(id string) string {
	return `Traceback (most recent call last):
  File "/usr/src/.venv/bin/text-generation-server", line 10, in <module>
    sys.exit(app())
  File "` + pySrv + `/cli.py", line 184, in download_weights
    utils.weight_files(model_id, revision, extension)
  File "` + pySrv + `/utils/hub.py", line 150, in weight_files
    filenames = weight_hub_files(model_id, revision, extension)
huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the file on the Hub and we cannot find the requested files in the local cache. Please check your connection and try again or make sure your Internet connection is on. (tgisim has no network: ` + id + ` is not a directory, not in the hub cache and not in its catalog)`
}

// rustOpt prints an Option<u32> with Debug.
func rustOpt(p *int) string {
	if p == nil {
		return "None"
	}
	return fmt.Sprintf("Some(%d)", *p)
}

// echoEnv logs "Environment: NAME=value …" for the variables SIM_ECHO_ENV
// names (nothing when it is unset).
func (l *launch) echoEnv() {
	if len(l.env.Echo) == 0 {
		return
	}
	kv := make([]string, len(l.env.Echo))
	for i, name := range l.env.Echo {
		kv[i] = name + "=" + l.getenv(name)
	}
	l.log.info("Environment: " + strings.Join(kv, " "))
}
