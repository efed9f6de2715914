package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/hfmeta"
)

// HubProgram is the companion program that reads a model from the Hub
// (internal/hubcmd). vramcalc runs it as a child for a model that is in no
// local directory, cache or catalog, so that vramcalc itself links no
// net/http, crypto/tls or cgo.
const HubProgram = "vramcalc-hub"

// HubRequest is one model to read from the Hub, with what a command's
// flags and environment say about it (HubRequestFrom).
type HubRequest struct {
	// Repo is the repo id, checked by hfmeta.CheckRepoID.
	Repo string
	// Endpoint is the Hub base URL without a trailing slash (HF_ENDPOINT).
	Endpoint string
	// Token is HFToken's: never printed, and passed to vramcalc-hub in its
	// environment only.
	Token string
	// Revision is the branch, tag or commit (--revision).
	Revision string
	// Timeout bounds the whole read, every request and retry included
	// (--timeout); 0 means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is --timeout's default: the longest a command waits for a
// model's metadata from the Hub. A 163-shard DeepSeek-V3 costs ~330
// requests, seconds on a working link; two minutes leave room for the
// Hub's retries (up to 5 per request, Retry-After up to 30 s) without
// letting a silent Hub hold a command for long.
const DefaultTimeout = 2 * time.Minute

// timeoutGrace is how much longer than its --timeout vramcalc waits for
// vramcalc-hub, which keeps the deadline itself and reports it with the
// request it was waiting on; the grace covers its start.
const timeoutGrace = 5 * time.Second

// TimeoutFlag is --timeout, the deadline for a model's metadata from the
// Hub (ModelFlags has it; commands that define their own model flags add
// it).
func TimeoutFlag() *cli.DurationFlag {
	return &cli.DurationFlag{Name: "timeout", Value: DefaultTimeout,
		Usage: "give up on the model's metadata from the Hub after this long, every request and retry included"}
}

// ErrNoAnswer is a Hub read cut short by --timeout (MetadataTimeout).
var ErrNoAnswer = errors.New("model metadata: no answer")

// MetadataTimeout is err (a Hub read cut short by its deadline) as the
// user sees it: that no answer came within d, and what to do. It wraps
// ErrNoAnswer and err.
func MetadataTimeout(d time.Duration, err error) error {
	return WithHint(fmt.Errorf("%w within %v: %w", ErrNoAnswer, d, err),
		fmt.Sprintf("raise --timeout (now %v) if the Hub is slow, or pass --offline with a local model directory or a model in the HF cache", d))
}

// HubRequestFrom is what c's model flags (--revision, --timeout) and e's
// environment (HF_ENDPOINT, HFToken) say about asking the Hub; Repo is
// left empty.
func HubRequestFrom(c *cli.Command, e Env) HubRequest {
	endpoint := e.Getenv("HF_ENDPOINT")
	if endpoint == "" {
		endpoint = hfmeta.DefaultEndpoint
	}
	timeout := DefaultTimeout
	if d := c.Duration("timeout"); d > 0 {
		timeout = d
	}
	revision := c.String("revision")
	if revision == "" {
		revision = "main"
	}
	return HubRequest{
		Endpoint: strings.TrimRight(endpoint, "/"),
		Token:    HFToken(e.Getenv),
		Revision: revision,
		Timeout:  timeout,
	}
}

// Exit codes of vramcalc-hub beyond the common ones, by which HubCompanion
// tells the errors callers branch on (hfmeta.ErrNotFound for a did-you-mean
// and the places looked at, hfmeta.ErrGated) from the others.
const (
	ExitNotFound = 4
	ExitGated    = 5
)

// HubArgs are vramcalc-hub's arguments for r; the token and the endpoint
// go in its environment (HubEnv).
func HubArgs(r HubRequest) []string {
	return []string{"--revision", r.Revision, "--timeout", r.Timeout.String(), r.Repo}
}

// hubEnvVars are the variables vramcalc-hub reads for the endpoint, the
// token and offline mode; HubEnv sets them from the request alone.
var hubEnvVars = []string{"HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}

// HubEnv is vramcalc-hub's environment: environ (the proxy variables and
// the rest) without the variables above, then HF_ENDPOINT and the token as
// r has them. With no token HF_TOKEN_PATH names the null device, so that
// the child finds none of its own.
func HubEnv(environ []string, r HubRequest) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, v := range hubEnvVars {
			if k == v || (runtime.GOOS == "windows" && strings.EqualFold(k, v)) {
				drop = true
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	env = append(env, "HF_ENDPOINT="+r.Endpoint)
	if r.Token != "" {
		return append(env, "HF_TOKEN="+r.Token)
	}
	return append(env, "HF_TOKEN_PATH="+os.DevNull)
}

// HubCompanion reads r.Repo with vramcalc-hub in a child process: no
// standard input, the Meta decoded from its standard output, and its
// error and hint lines (standard error) turned back into an error with
// that hint, which wraps hfmeta.ErrNotFound or hfmeta.ErrGated as its exit
// code says. When ctx ends the child is interrupted and the error wraps
// ctx.Err(); so does Ctrl-C or SIGTERM while the child runs (the error
// then wraps ErrInterrupted), whether or not the program handles them.
func HubCompanion(ctx context.Context, r HubRequest) (hfmeta.Meta, error) {
	path, err := FindCompanion(HubProgram)
	if err != nil {
		return hfmeta.Meta{}, err
	}
	parent := ctx
	ctx, stop := NotifySignals(ctx)
	defer stop()
	cmd := exec.CommandContext(ctx, path, HubArgs(r)...)
	cmd.Env = HubEnv(os.Environ(), r)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if runtime.GOOS != "windows" {
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	}
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if parent.Err() != nil {
		return hfmeta.Meta{}, fmt.Errorf("%s: %w", HubProgram, parent.Err())
	}
	if ctx.Err() != nil {
		return hfmeta.Meta{}, fmt.Errorf("%s: %w: %w", HubProgram, ErrInterrupted, context.Cause(ctx))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return hfmeta.Meta{}, CompanionFailure(HubProgram, ee.ExitCode(), stderr.String())
	}
	if err != nil {
		return hfmeta.Meta{}, fmt.Errorf("%s: %w", HubProgram, err)
	}
	var m hfmeta.Meta
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return hfmeta.Meta{}, fmt.Errorf("%s: unreadable output: %w", HubProgram, err)
	}
	return m, nil
}

// companionError is an error a companion program printed, as its message
// and the sentinel its exit code stands for.
type companionError struct {
	msg  string
	kind error
}

func (e *companionError) Error() string { return e.msg }
func (e *companionError) Unwrap() error { return e.kind }

// CompanionFailure is the error a companion program that exited with code
// printed on stderr: the text after "vramcalc: error: " (up to the hint
// line) as the message, the text after "vramcalc: hint: " as its hint, and
// hfmeta.ErrNotFound or hfmeta.ErrGated wrapped for ExitNotFound and
// ExitGated. Without an error line the message is the program, the code
// and whatever it printed.
func CompanionFailure(program string, code int, stderr string) error {
	var msg, hint []string
	var cur *[]string
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, errorPrefix):
			cur = &msg
			line = strings.TrimPrefix(line, errorPrefix)
		case strings.HasPrefix(line, hintPrefix):
			cur = &hint
			line = strings.TrimPrefix(line, hintPrefix)
		}
		if cur != nil {
			*cur = append(*cur, line)
		}
	}
	ce := &companionError{msg: strings.Join(msg, "\n")}
	if len(msg) == 0 {
		ce.msg = fmt.Sprintf("%s: exit status %d", program, code)
		if s := strings.TrimSpace(stderr); s != "" {
			ce.msg += ": " + s
		}
	}
	switch code {
	case ExitNotFound:
		ce.kind = hfmeta.ErrNotFound
	case ExitGated:
		ce.kind = hfmeta.ErrGated
	}
	if len(hint) > 0 {
		return WithHint(ce, strings.Join(hint, "\n"))
	}
	return ce
}

// exitCoded gives an error its own exit code (WithExitCode).
type exitCoded struct {
	err  error
	code int
}

func (e *exitCoded) Error() string { return e.err.Error() }
func (e *exitCoded) Unwrap() error { return e.err }

// WithExitCode makes Run exit with code for err, after printing it and its
// hint as usual: vramcalc-hub's ExitNotFound and ExitGated.
func WithExitCode(err error, code int) error { return &exitCoded{err: err, code: code} }
