package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"github.com/urfave/cli/v3"
)

// Companion is a command vramcalc hands to a separate program,
// vramcalc-NAME, found next to vramcalc or on PATH (as git, kubectl and
// docker run their plugins): validate, calibrate and plot link Docker,
// NVML, fitting and plotting libraries that estimate must not pay for.
func Companion(name, usage string, e Env) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           usage,
		ArgsUsage:       "[arguments of vramcalc-" + name + "]",
		Description:     fmt.Sprintf("vramcalc %[1]s runs the program vramcalc-%[1]s (installed beside vramcalc by `go install ./cmd/...`);\n`vramcalc %[1]s --help` shows its flags.", name),
		SkipFlagParsing: true,
		Action: func(ctx context.Context, c *cli.Command) error {
			if e.Companion == nil {
				return fmt.Errorf("vramcalc-%s cannot be started from here", name)
			}
			return e.Companion("vramcalc-"+name, c.Args().Slice())
		},
	}
}

// ErrNoCompanion is a companion program that is not installed.
var ErrNoCompanion = errors.New("program not found")

// FindCompanion looks for program next to the running executable, then on PATH.
func FindCompanion(program string) (string, error) {
	exe := program
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), exe)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	return "", WithHint(fmt.Errorf("%s: %w next to vramcalc or on PATH", program, ErrNoCompanion),
		"install the vramcalc programs together: go install github.com/vramcalc/vramcalc/cmd/...@latest (or go build -o DIR ./cmd/... from a checkout)")
}

// ExecCompanion replaces this process with program (Unix), so that signals,
// exit codes and the terminal are the companion's own; elsewhere it runs it
// as a child, forwards interrupts and exits with its code.
func ExecCompanion(program string, args []string) error {
	path, err := FindCompanion(program)
	if err != nil {
		return err
	}
	argv := append([]string{program}, args...)
	if replaced, err := replaceProcess(path, argv); replaced {
		return fmt.Errorf("exec %s: %w", program, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", program, err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sig {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sig)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", program, err)
	}
	os.Exit(ExitOK)
	return nil
}

// Main is a vramcalc program's main: the environment of the process,
// SIGINT and SIGTERM as a cancelled context (exit codes 130 and 143, with
// every container removed first), and the one error printer.
// Each option changes the Env first, e.g. hubcmd.InProcess for a program
// that links net/http anyway.
func Main(root func(Env) *cli.Command, options ...func(*Env)) int {
	ctx, stop := NotifySignals(context.Background())
	defer stop()
	return run(ctx, root, options)
}

// MainComputing is Main for a program whose commands compute and print
// without waiting on anything (vramcalc): Ctrl-C is left to the operating
// system, which ends the process by the signal (shells report 130), and
// whatever does wait installs its own handler (HubCompanion while its
// child runs). A signal handler costs a thread at start, about a tenth of
// vramcalc's start-up (bench/startup.sh).
func MainComputing(root func(Env) *cli.Command, options ...func(*Env)) int {
	return run(context.Background(), root, options)
}

func run(ctx context.Context, root func(Env) *cli.Command, options []func(*Env)) int {
	e := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Companion: ExecCompanion}
	for _, o := range options {
		o(&e)
	}
	return Run(ctx, root(e), os.Args, e)
}

// Deferred is a command whose flags are built only when it runs: urfave/cli
// sets up (and renders the help text of) every flag of every command
// before it runs one, which is most of a short process's time, so vramcalc
// lists its commands by name and usage and builds the one asked for.
// `vramcalc estimate --help` and `vramcalc help estimate` reach the built
// command's own help.
func Deferred(name, usage string, build func() *cli.Command) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           usage,
		ArgsUsage:       "[arguments]",
		SkipFlagParsing: true,
		Metadata:        map[string]any{deferredBuild: build},
		Action: func(ctx context.Context, c *cli.Command) error {
			return runBuilt(ctx, c.Root(), name, build, c.Args().Slice())
		},
	}
}

// deferredBuild is the Metadata key of a Deferred command's builder.
const deferredBuild = "vramcalc/deferred"

// helpHook is set once: urfave/cli's `help NAME` (cli.ShowCommandHelp, the
// hook it offers; an unknown command reaches it too) shows a Deferred
// command's built help, and turns an unknown NAME into a usage error with
// the closest command.
var helpHook sync.Once

func installHelpHook() {
	helpHook.Do(func() {
		show := cli.ShowCommandHelp
		cli.ShowCommandHelp = func(ctx context.Context, cmd *cli.Command, name string) error {
			sub := cmd.Command(name)
			if sub == nil {
				hint := fmt.Sprintf("run `%s --help` for the commands", cmd.FullName())
				if s := closestCommand(name, cmd); s != "" {
					hint = fmt.Sprintf("did you mean %s? (%s)", s, hint)
				}
				return &UsageError{Msg: fmt.Sprintf("no command %q", name), Hint: hint}
			}
			if build, ok := sub.Metadata[deferredBuild].(func() *cli.Command); ok {
				return runBuilt(ctx, cmd.Root(), name, build, []string{"--help"})
			}
			return show(ctx, cmd, name)
		}
	})
}

// runBuilt builds the named command and runs it with args as the one
// command of a root like root.
func runBuilt(ctx context.Context, root *cli.Command, name string, build func() *cli.Command, args []string) error {
	one := &cli.Command{Name: root.Name, Usage: root.Usage, Writer: root.Writer, ErrWriter: root.ErrWriter,
		ExitErrHandler: func(context.Context, *cli.Command, error) {}, Suggest: true, Commands: []*cli.Command{build()}}
	walkUsage(one)
	// A context without the running command in its values, so that one is
	// a root of its own (urfave/cli parents a command to the one in its
	// context), cancelled with ctx.
	fresh, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	return one.Run(fresh, append([]string{root.Name, name}, args...))
}
