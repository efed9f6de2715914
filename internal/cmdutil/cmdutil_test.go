package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
)

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 22710: "22,710", -1234567: "-1,234,567"} {
		if got := Num(n); got != want {
			t.Errorf("Num(%d) = %q, want %q", n, got, want)
		}
	}
	// 23,570,219,008 B / 2^30 = 21.951… GiB.
	if got := GiB(23570219008); got != "21.95" {
		t.Errorf("GiB = %q", got)
	}
}

func TestRowsFormats(t *testing.T) {
	r := Rows{Header: []string{"model", "note"}, Rows: [][]string{{"a|b", "x"}, {"c", "two\nlines"}}}
	var md, csv, table bytes.Buffer
	for _, c := range []struct {
		buf    *bytes.Buffer
		format string
	}{{&md, FormatMarkdown}, {&csv, FormatCSV}, {&table, FormatTable}} {
		if err := r.Write(c.buf, c.format); err != nil {
			t.Fatal(err)
		}
	}
	// Markdown escapes | so that a cell cannot break the table.
	if want := "| model | note |\n|---|---|\n| a\\|b | x |\n| c | two lines |\n"; md.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", md.String(), want)
	}
	if want := "model,note\na|b,x\nc,\"two\nlines\"\n"; csv.String() != want {
		t.Errorf("csv %q, want %q", csv.String(), want)
	}
	if want := "model  note\na|b    x\nc      two lines\n"; table.String() != want {
		t.Errorf("table %q, want %q", table.String(), want)
	}
}

func TestGPUFrom(t *testing.T) {
	if _, err := GPUFrom("L4", "24", 1); err == nil || !strings.Contains(err.Error(), "--gpu and --vram both given") {
		t.Errorf("conflict: %v", err)
	}
	if _, err := GPUFrom("", "", 1); err == nil || !strings.Contains(err.Error(), "--gpu or --vram is required") {
		t.Errorf("neither: %v", err)
	}
	h, err := GPUFrom("L4", "", 2)
	if err != nil || h.GPU.TotalBytes != 23570219008 || h.Count != 2 || len(h.Assumptions) != 0 {
		t.Errorf("--gpu L4: %+v, %v", h, err)
	}
	// --vram 24 alone: the smallest total of the 24 GB cards (the L4's), and
	// what the engines cannot know without a card.
	h, err = GPUFrom("", "24", 1)
	if err != nil || h.GPU.TotalBytes != 23570219008 || h.GPU.Name != "" || len(h.Assumptions) != 1 || !strings.Contains(h.Assumptions[0], "compute capability are unknown") {
		t.Errorf("--vram 24: %+v, %v", h, err)
	}
}

func TestSuggestions(t *testing.T) {
	for in, want := range map[string]string{
		"Llama-3.1-8B-Instruct":           "meta-llama/Llama-3.1-8B-Instruct",
		"llama-3.1-8b-instruct":           "meta-llama/Llama-3.1-8B-Instruct",
		"meta-llama/Llama-3.1-8B-Instrct": "meta-llama/Llama-3.1-8B-Instruct",
		"Qwen3-32b":                       "Qwen/Qwen3-32B",
		"totally-unknown-model-xyz":       "",
	} {
		if got := SuggestModel(in); got != want {
			t.Errorf("SuggestModel(%q) = %q, want %q", in, got, want)
		}
	}
	cmd := &cli.Command{Name: "estimate", Flags: []cli.Flag{&cli.IntFlag{Name: "max-total-tokens"}, &cli.IntFlag{Name: "max-input-tokens"}}}
	if got := suggestFlag("max-totl-tokens", cmd); got != "max-total-tokens" {
		t.Errorf("suggestFlag = %q", got)
	}
	if got := suggestFlag("gpu-count", cmd); got != "" {
		t.Errorf("suggestFlag(gpu-count) = %q, want none", got)
	}
}

// The one error printer: exit codes and hint lines.
func TestRunExitCodes(t *testing.T) {
	for _, c := range []struct {
		err    error
		ctx    func() context.Context
		code   int
		stderr string
	}{
		{nil, context.Background, ExitOK, ""},
		{errors.New("boom"), context.Background, ExitError, "vramcalc: error: boom\n"},
		{Usage("try this", "bad %s", "flag"), context.Background, ExitUsage, "vramcalc: error: bad flag\nvramcalc: hint: try this\n"},
		{&CheckError{Msg: "TGI would not start"}, context.Background, ExitCheck, "vramcalc: check: TGI would not start\n"},
		{fmt.Errorf("estimate: %w", &estimate.ReleaseError{Engine: estimate.EngineInfo{Title: "vLLM", Oldest: "0.2.0", Newest: "0.21.x", DefaultVersion: "0.19.0"}, Version: "0.30"}),
			context.Background, ExitError, "vramcalc: hint: vramcalc models vLLM 0.2.0 – 0.21.x (default 0.19.0): pass --engine-version within that range\n"},
		{context.Canceled, func() context.Context { ctx, cancel := context.WithCancel(context.Background()); cancel(); return ctx }, ExitInterrupted, "vramcalc: interrupted\n"},
		// 128 + 2 and 128 + 15: the signal that cancelled the context.
		{context.Canceled, signaled(syscall.SIGINT), ExitInterrupted, "vramcalc: interrupted\n"},
		{fmt.Errorf("probe: launch 2 interrupted: %w", context.Canceled), signaled(syscall.SIGTERM), ExitTerminated, "vramcalc: interrupted\n"},
		// A command that returned nil after the signal came was cut short all the same.
		{nil, signaled(syscall.SIGTERM), ExitTerminated, "vramcalc: interrupted\n"},
		// A handler of its own (HubCompanion) says which signal in the error.
		{fmt.Errorf("vramcalc-hub: %w: %w", ErrInterrupted, &Signaled{Signal: syscall.SIGTERM}), context.Background, ExitTerminated, "vramcalc: interrupted\n"},
		{fmt.Errorf("vramcalc-hub: %w", ErrInterrupted), context.Background, ExitInterrupted, "vramcalc: interrupted\n"},
	} {
		var out, errb bytes.Buffer
		e := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		err := c.err
		root := Prepare(&cli.Command{Name: "vramcalc", Action: func(context.Context, *cli.Command) error { return err }}, e)
		code := Run(c.ctx(), root, []string{"vramcalc"}, e)
		if code != c.code || !strings.HasSuffix(errb.String(), c.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.err, code, errb.String(), c.code, c.stderr)
		}
	}
}

// signaled is a context a signal cancelled, as NotifySignals leaves it.
func signaled(sig syscall.Signal) func() context.Context {
	return func() context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(&Signaled{Signal: sig})
		return ctx
	}
}

// TestNotifySignals: a SIGTERM sent to this process cancels the context
// with a cause that names it, matches context.Canceled and exits 143
// (128 + 15); SIGINT exits 130 (128 + 2).
func TestNotifySignals(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		ctx, stop := NotifySignals(context.Background())
		if err := syscall.Kill(os.Getpid(), c.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: context not cancelled", c.sig)
		}
		var sig *Signaled
		if !errors.As(context.Cause(ctx), &sig) || sig.Signal != c.sig || !errors.Is(context.Cause(ctx), context.Canceled) || sig.ExitCode() != c.code {
			t.Errorf("%v: cause %v, want *Signaled exiting %d", c.sig, context.Cause(ctx), c.code)
		}
		stop()
	}
}
