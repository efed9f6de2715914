// Package cmdutil is the plumbing every vramcalc program shares: the
// process environment as a value, the one error printer with its hints and
// exit codes, output formats for rows, and the flags that name a model and
// the GPUs. vramcalc itself holds the light commands (estimate, plan,
// models, gpus, accuracy, version); validate, calibrate and plot are
// separate programs (vramcalc-validate, …) that vramcalc runs, so that their
// Docker, NVML, fitting and plotting libraries cost estimate nothing, and
// so is the Hub client (vramcalc-hub, run as a child by HubCompanion), so
// that vramcalc links no net/http, crypto/tls or cgo.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/fuzzy"
)

// Env is everything a program takes from outside: only the commands read
// the environment, and tests pass their own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Companion runs another vramcalc program with args (ExecCompanion);
	// nil where none may be started (tests that run a command in-process).
	Companion func(program string, args []string) error
	// Hub reads one model from the Hub, the last step of Client's
	// Resolve; nil runs vramcalc-hub as a child (HubCompanion). Programs
	// that link net/http anyway and tests read it in-process
	// (internal/hubcmd's Fetch).
	Hub func(ctx context.Context, r HubRequest) (hfmeta.Meta, error)
}

// Exit codes, as docker and kubectl use them.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
	// ExitCheck is `estimate --check` finding limits that would not start.
	ExitCheck = 3
	// ExitInterrupted is Ctrl-C (128 + SIGINT).
	ExitInterrupted = 130
	// ExitTerminated is SIGTERM (128 + 15), as `docker stop` and
	// Kubernetes send it.
	ExitTerminated = 143
)

// ErrInterrupted is Ctrl-C or SIGTERM caught by a command that installed
// its own handler (see MainComputing); Run exits ExitInterrupted for it,
// or 128 + the signal's number when the error also wraps a *Signaled.
var ErrInterrupted = errors.New("interrupted")

// Signaled is the cause of a context that a signal cancelled (see
// NotifySignals): it says which signal, so that Run exits 128 + its
// number, and it matches context.Canceled.
type Signaled struct{ Signal os.Signal }

func (e *Signaled) Error() string { return e.Signal.String() + " signal received" }

// Is makes a signal a cancellation: errors.Is(err, context.Canceled).
func (e *Signaled) Is(target error) bool { return target == context.Canceled }

// ExitCode is 128 + the signal's number (130 for SIGINT, 143 for SIGTERM),
// as shells report a process that a signal ended.
func (e *Signaled) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return ExitInterrupted
}

// NotifySignals is signal.NotifyContext for SIGINT and SIGTERM whose
// context.Cause is a *Signaled naming the signal (the standard library's
// cause is a string). Later signals are ignored until stop is called.
func NotifySignals(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(&Signaled{Signal: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// interruptCode is the exit code of a run that a signal or a cancelled
// context ended (ok false otherwise): 128 + the signal's number when it
// is known, else ExitInterrupted. A signal that came while the command
// finished still counts: its results may be cut short.
func interruptCode(ctx context.Context, err error) (code int, ok bool) {
	var sig *Signaled
	switch {
	case errors.As(context.Cause(ctx), &sig), errors.As(err, &sig):
		return sig.ExitCode(), true
	case err == nil:
		return 0, false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil, errors.Is(err, ErrInterrupted):
		return ExitInterrupted, true
	}
	return 0, false
}

// UsageError is bad command-line use (exit code 2).
type UsageError struct{ Msg, Hint string }

func (e *UsageError) Error() string { return e.Msg }

// Usage returns a usage error with a hint.
func Usage(hint, format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...), Hint: hint}
}

// hinted carries a hint line for the user.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

// WithHint attaches the hint the one error printer shows under err.
func WithHint(err error, hint string) error { return &hinted{err: err, hint: hint} }

// CheckError is `estimate --check` finding that the limits would not start
// (exit code 3).
type CheckError struct{ Msg string }

func (e *CheckError) Error() string { return e.Msg }

// OnUsageError turns urfave/cli's flag errors into usage errors with a
// hint, naming the flag meant when an unknown one is close to a real one.
func OnUsageError(_ context.Context, cmd *cli.Command, err error, _ bool) error {
	hint := fmt.Sprintf("run `%s --help` for usage", cmd.FullName())
	if _, name, ok := strings.Cut(err.Error(), "flag provided but not defined: "); ok {
		if s := suggestFlag(strings.TrimLeft(name, "-"), cmd); s != "" {
			hint = fmt.Sprintf("did you mean --%s? (%s)", s, hint)
		}
	}
	return &UsageError{Msg: err.Error(), Hint: hint}
}

// suggestFlag is cmd's flag closest to name, when it is close.
func suggestFlag(name string, cmd *cli.Command) string {
	best, bestD := "", max(2, len(name)/4)+1
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if d := fuzzy.Distance(name, n); d < bestD {
				best, bestD = n, d
			}
		}
	}
	return best
}

// closestCommand is cmd's visible subcommand closest to name, when close.
func closestCommand(name string, cmd *cli.Command) string {
	best, bestD := "", max(2, len(name)/4)+1
	for _, c := range cmd.VisibleCommands() {
		if d := fuzzy.Distance(name, c.Name); d < bestD {
			best, bestD = c.Name, d
		}
	}
	return best
}

// Prepare sets what every vramcalc command shares on a root command: its
// writers, the usage-error hook on every subcommand, suggestions for
// mistyped commands and flags, and no exit from inside urfave/cli.
func Prepare(root *cli.Command, e Env) *cli.Command {
	root.Writer, root.ErrWriter = e.Stdout, e.Stderr
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	root.Suggest = true
	walkUsage(root)
	installHelpHook()
	return root
}

// walkUsage sets the usage-error hook on c and every subcommand.
func walkUsage(c *cli.Command) {
	c.OnUsageError = OnUsageError
	for _, s := range c.Commands {
		walkUsage(s)
	}
}

// Run executes root and is the one place that prints errors and hints.
func Run(ctx context.Context, root *cli.Command, args []string, e Env) int {
	err := root.Run(ctx, args)
	if code, ok := interruptCode(ctx, err); ok {
		fmt.Fprintln(e.Stderr, "vramcalc: interrupted")
		return code
	}
	if err == nil {
		return ExitOK
	}
	var ce *CheckError
	if errors.As(err, &ce) {
		fmt.Fprintf(e.Stderr, "vramcalc: check: %s\n", ce.Msg)
		return ExitCheck
	}
	fmt.Fprintf(e.Stderr, "%s%s\n", errorPrefix, err)
	if h := Hint(err); h != "" {
		fmt.Fprintf(e.Stderr, "%s%s\n", hintPrefix, h)
	}
	var xc *exitCoded
	if errors.As(err, &xc) {
		return xc.code
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

// The lines Run prints an error and its hint on, which CompanionFailure
// reads back from a companion program.
const (
	errorPrefix = "vramcalc: error: "
	hintPrefix  = "vramcalc: hint: "
)

// timeout is what net.Error and the http client's errors have in common:
// cmdutil does not import net.
type timeout interface{ Timeout() bool }

// Hint maps an error to the hint a user needs next.
func Hint(err error) string {
	var he *hinted
	var ue *UsageError
	var re *estimate.ReleaseError
	var te timeout
	var ns *estimate.NotServedError
	switch {
	case errors.As(err, &he):
		return he.hint
	case errors.As(err, &ue):
		return ue.Hint
	case errors.As(err, &re):
		e := re.Engine
		return fmt.Sprintf("vramcalc models %s %s (default %s): pass --engine-version within that range", e.Title, e.Releases(), e.DefaultVersion)
	case errors.Is(err, hfmeta.ErrGated):
		return "the repo is gated or private: accept its terms on the Hub, then set HF_TOKEN to a token with read access"
	case errors.Is(err, hfmeta.ErrNotFound) && errors.Is(err, hfmeta.ErrOffline):
		return "pass a local directory holding config.json, or allow network access (no --offline, HF_HUB_OFFLINE unset) to read the Hub; `vramcalc models` lists the built-in catalog"
	case errors.Is(err, hfmeta.ErrNotFound):
		return "check the model id, or pass a local directory holding config.json; `vramcalc models` lists the built-in catalog"
	case errors.Is(err, hfmeta.ErrFileTooLarge):
		return fmt.Sprintf("no real model's config.json is over %d MiB or its safetensors index over %d MiB: check the repo or directory", hfmeta.MaxConfigSize>>20, hfmeta.MaxIndexSize>>20)
	case errors.Is(err, hfmeta.ErrHeaderTooLarge), errors.Is(err, hfmeta.ErrTruncated), errors.Is(err, hfmeta.ErrBadHeader):
		return "the safetensors file looks corrupt or incomplete: download it again"
	case errors.Is(err, hfmeta.ErrBadConfig), errors.Is(err, hfmeta.ErrMissingKeys):
		return "check the model's config.json: vramcalc needs num_hidden_layers, hidden_size, num_attention_heads and vocab_size"
	case errors.Is(err, gpus.ErrUnknownGPU):
		return "`vramcalc gpus` lists the known GPUs; or give the memory with --vram 80 (a card sold as 80 GB) or --vram 79.19GiB"
	case errors.Is(err, gpus.ErrInvalidVRAM):
		return "--vram takes a nominal size (80, 80GB) or exact memory (79.19GiB, 81559MiB, 85017755648B)"
	case errors.Is(err, estimate.ErrUnknownDType):
		return "use bfloat16 or float16 for --dtype, fp8_e4m3fn or fp8_e5m2 for --kv-cache-dtype"
	case errors.As(err, &ns):
		return ns.Hint
	case errors.Is(err, estimate.ErrNotServed):
		return "use --engine vllm or --engine sglang"
	case errors.Is(err, estimate.ErrUnsupported):
		return "`vramcalc estimate --help` lists the engines and releases vramcalc models"
	case errors.Is(err, estimate.ErrImplausible):
		return "no real model, GPU or limit is that large (each limit is at least 10 times the largest real one); check the value named above"
	case errors.Is(err, estimate.ErrInvalid):
		return "these are the engine's own rules; see `vramcalc estimate --help`"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &te) && te.Timeout():
		return "the Hub did not answer in time: check the network, or set HF_HUB_OFFLINE=1 to use the cache and the catalog"
	}
	return ""
}

// Version is the module version vramcalc was built from ("(devel)" for a
// build from a checkout), with the VCS revision when the build recorded one.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}

// Truthy follows huggingface_hub's env parsing (1, ON, YES, TRUE).
func Truthy(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}
