package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// Exit codes: 1 for an exception in the main process, 2 for argparse, and
// exitKillTree for kill_process_tree(os.getpid()), which main turns into a
// SIGKILL to itself and then exit 0 (docs/ENGINE-SURFACE.md §B3).
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitKillTree = -9
)

const version = "0.5.18"

// app is one run of the simulated `python3 -m sglang.launch_server`.
type app struct {
	ctx     context.Context
	getenv  func(string) string
	stdout  io.Writer
	stderr  io.Writer
	now     func() time.Time
	listen  func(network, addr string) (net.Listener, error)
	log     *logger
	serving func(*server) // a test hook: the server once it is ready
}

func run(ctx context.Context, argv []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ap := &app{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now, listen: net.Listen}
	return ap.run(argv)
}

// logger prints SGLang's format, "[YYYY-MM-DD HH:MM:SS] message" with " TPn"
// after the time on schedulers when tp > 1
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/utils/common.py#L2327-L2345).
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (l *logger) print(prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s%s] %s\n", l.now().Format("2006-01-02 15:04:05"), prefix, msg)
}

// raw prints text as it is (uvicorn's lines, tracebacks).
func (l *logger) raw(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, text)
}

// commandOK checks the leading `-m sglang.launch_server` (python3 is the
// image's binary); it returns the server arguments.
func commandOK(argv []string) ([]string, bool) {
	if len(argv) >= 2 && argv[0] == "-m" && argv[1] == "sglang.launch_server" {
		return argv[2:], true
	}
	return nil, false
}

func (ap *app) run(argv []string) int {
	rest, ok := commandOK(argv)
	if !ok {
		fmt.Fprintf(ap.stderr, "python3: the sglang simulator runs only `python3 -m sglang.launch_server …` (got %q)\n", strings.Join(argv, " "))
		return exitUsage
	}
	a, err := parseArgs(rest)
	if err != nil {
		io.WriteString(ap.stderr, err.Error())
		return exitUsage
	}
	env, err := simkit.NewEnv(defaultOverhead, defaultContext, defaultActFactor, ap.now).Load(ap.getenv)
	if err != nil {
		fmt.Fprintf(ap.stderr, "sglangsim: %v\n", err)
		return exitError
	}
	ap.log = &logger{w: ap.stdout, now: ap.now}
	ap.log.print("", fmt.Sprintf("server_args=ServerArgs(model_path='%s', tp_size=%d, context_length=%s, mem_fraction_static=%s, chunked_prefill_size=%s, max_running_requests=%s, host='%s', port=%d, enable_metrics=%s)",
		a.ModelPath, a.TP, pyOpt(a.ContextLength), pyOptF(a.MemFractionStatic), pyOpt(a.ChunkedPrefillSize), pyOpt(a.MaxRunningRequests), a.Host, a.Port, simkit.PyBool(a.EnableMetrics)))
	m, err := simkit.ResolveModel(a.ModelPath, a.Revision, a.DownloadDir, ap.getenv)
	if err != nil {
		if !errors.Is(err, simkit.ErrModelNotFound) {
			fmt.Fprintf(ap.stderr, "sglangsim: %v\n", err)
			return exitError
		}
		ap.log.raw(pyTraceback(fmt.Sprintf("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error.\n\nRepository Not Found for url: https://huggingface.co/api/models/%s.\n(sglangsim has no network: %v)", a.ModelPath, err)))
		return exitError
	}
	p := simulate(a, m, env)
	if p.Fail == failArgs {
		ap.log.raw(pyTraceback("ValueError: " + p.Message))
		return exitError
	}
	gpus := simkit.NewGPUs(env.GPUName, env.GPUTotal, env.NumGPUs)
	l := &launch{app: ap, Start: simkit.Start{Ctx: ap.ctx, Env: env, GPUs: gpus, Ranks: p.TP}, args: a, model: m, plan: p}
	defer simkit.ServeGPUsPort(ap.listen, "0.0.0.0", env.GPUsPort, gpus, ap.stderr, "sglangsim")()
	if code, ok := l.start(); !ok {
		return code
	}
	return l.serve()
}

func pyTraceback(exc string) string {
	return "Traceback (most recent call last):\n  File \"/usr/lib/python3.12/runpy.py\", line 198, in _run_module_as_main\n  File \"/sgl-workspace/sglang/python/sglang/launch_server.py\", line 32, in <module>\n" + exc
}

func pyOpt(n int) string {
	if n == 0 {
		return "None"
	}
	return strconv.Itoa(n)
}

func pyOptF(f float64) string {
	if f == 0 {
		return "None"
	}
	return simkit.PyFloat(f)
}

// launch is one start from its plan on.
type launch struct {
	*app
	simkit.Start
	args  *Args
	model *simkit.Model
	plan  *plan
}

// prefix is the scheduler's " TPn" with more than one rank.
func (l *launch) prefix(r int) string {
	if l.plan.TP > 1 {
		return fmt.Sprintf(" TP%d", r)
	}
	return ""
}

// schedulerFailed is an exception in a scheduler: its traceback, SIGQUIT
// to the parent, whose handler kills the process tree
// (https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/managers/scheduler.py#L5066-L5069,
// https://github.com/sgl-project/sglang/blob/v0.5.18/python/sglang/srt/entrypoints/engine.py#L1726-L1732).
func (l *launch) schedulerFailed(exc string) int {
	l.log.print(l.prefix(0), "Scheduler hit an exception: "+pyTraceback(exc))
	l.log.print("", "Received sigquit from a child process. It usually means the child failed.")
	l.SetRanks(func(int) int64 { return 0 })
	return exitKillTree
}
