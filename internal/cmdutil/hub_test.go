package cmdutil_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// TestHubEnv: vramcalc-hub gets the parent's environment without its own
// endpoint, token and offline variables, then the request's endpoint and
// token; with no token it is pointed at the null device, so that it finds
// none of its own.
func TestHubEnv(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "HTTPS_PROXY=http://proxy:3128", "HF_TOKEN=hf_stale", "HUGGING_FACE_HUB_TOKEN=hf_legacy",
		"HF_TOKEN_PATH=/somewhere/token", "HF_ENDPOINT=https://old.example", "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_HOME=/hf", "X=a=b"}
	r := cmdutil.HubRequest{Repo: "org/m", Endpoint: "https://hub.example", Token: "hf_request", Revision: "main", Timeout: time.Second}
	want := []string{"PATH=/usr/bin", "HTTPS_PROXY=http://proxy:3128", "HF_HOME=/hf", "X=a=b", "HF_ENDPOINT=https://hub.example", "HF_TOKEN=hf_request"}
	if got := cmdutil.HubEnv(environ, r); !slices.Equal(got, want) {
		t.Errorf("HubEnv = %q\nwant     %q", got, want)
	}

	// The child reads the token with HFToken: the request's, or none even
	// when HF_HOME holds a token file.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromFile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{"hf_request": "hf_request", "": ""} {
		r.Token = token
		env := cmdutil.HubEnv([]string{"HF_HOME=" + home, "HF_TOKEN=hf_stale"}, r)
		getenv := func(k string) string {
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, k+"="); ok {
					return v
				}
			}
			return ""
		}
		if got := cmdutil.HFToken(getenv); got != want {
			t.Errorf("token %q: the child reads %q", token, got)
		}
	}
}

func TestHubArgs(t *testing.T) {
	r := cmdutil.HubRequest{Repo: "org/m", Endpoint: "https://hub.example", Token: "hf_secret", Revision: "v1.0", Timeout: 1500 * time.Millisecond}
	want := []string{"--revision", "v1.0", "--timeout", "1.5s", "org/m"}
	if got := cmdutil.HubArgs(r); !slices.Equal(got, want) {
		t.Errorf("HubArgs = %q, want %q (the token travels in the environment only)", got, want)
	}
}

// TestHubRequestFrom: the flags and variables cmdutil.Client read before
// the Hub moved to vramcalc-hub, with their defaults.
func TestHubRequestFrom(t *testing.T) {
	for _, tt := range []struct {
		args []string
		vars map[string]string
		want cmdutil.HubRequest
	}{
		{nil, nil, cmdutil.HubRequest{Endpoint: "https://huggingface.co", Revision: "main", Timeout: 2 * time.Minute}},
		{[]string{"--revision", "refs/pr/1", "--timeout", "2s"}, map[string]string{"HF_ENDPOINT": "https://mirror.example/hf//", "HF_TOKEN": " hf_x \n"},
			cmdutil.HubRequest{Endpoint: "https://mirror.example/hf", Token: "hf_x", Revision: "refs/pr/1", Timeout: 2 * time.Second}},
		{[]string{"--timeout", "0s"}, map[string]string{"HUGGING_FACE_HUB_TOKEN": "hf_legacy"},
			cmdutil.HubRequest{Endpoint: "https://huggingface.co", Token: "hf_legacy", Revision: "main", Timeout: 2 * time.Minute}},
	} {
		var got cmdutil.HubRequest
		cmd := &cli.Command{Name: "x", Flags: cmdutil.ModelFlags(), Action: func(_ context.Context, c *cli.Command) error {
			got = cmdutil.HubRequestFrom(c, cmdutil.Env{Getenv: func(k string) string { return tt.vars[k] }})
			return nil
		}}
		if err := cmd.Run(context.Background(), append([]string{"x"}, tt.args...)); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%q %v: %+v, want %+v", tt.args, tt.vars, got, tt.want)
		}
	}
}

// TestClientRemote: Client's Hub step is Env.Hub with the request the
// flags and environment make, for the repo id Resolve checked; offline it
// is never called.
func TestClientRemote(t *testing.T) {
	var asked []cmdutil.HubRequest
	e := cmdutil.Env{
		Getenv: func(k string) string {
			return map[string]string{"HF_ENDPOINT": "https://hub.example", "HF_TOKEN": "hf_t", "HF_HOME": t.TempDir()}[k]
		},
		Hub: func(_ context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
			asked = append(asked, r)
			return hfmeta.Meta{}, fmt.Errorf("hfmeta: fetch config %s: %w", r.Repo, hfmeta.ErrNotFound)
		},
	}
	var errs []error
	cmd := &cli.Command{Name: "x", Flags: cmdutil.ModelFlags(), Action: func(ctx context.Context, c *cli.Command) error {
		for _, ref := range []string{"https://hub.example/org/model", "./no-such-dir", "Qwen/Qwen3-0.6B"} {
			_, err := cmdutil.Client(c, e).Resolve(ctx, ref)
			errs = append(errs, err)
		}
		return nil
	}}
	if err := cmd.Run(context.Background(), []string{"x", "--revision", "v2", "--timeout", "3s"}); err != nil {
		t.Fatal(err)
	}
	want := []cmdutil.HubRequest{{Repo: "org/model", Endpoint: "https://hub.example", Token: "hf_t", Revision: "v2", Timeout: 3 * time.Second}}
	if !reflect.DeepEqual(asked, want) {
		t.Errorf("asked %+v, want %+v", asked, want)
	}
	if !errors.Is(errs[0], hfmeta.ErrNotFound) || !strings.Contains(errs[0].Error(), "(also: no directory \"org/model\"") || errs[2] != nil {
		t.Errorf("errors %v", errs)
	}

	asked = nil
	if err := cmd.Run(context.Background(), []string{"x", "--offline"}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 0 || !errors.Is(errs[3], hfmeta.ErrOffline) {
		t.Errorf("offline: asked %+v, error %v", asked, errs[3])
	}
}

// TestCompanionFailure: what vramcalc-hub prints when it fails (through
// Run) becomes an error that vramcalc's Run prints as the same lines, with
// the sentinel its exit code stands for.
func TestCompanionFailure(t *testing.T) {
	gated := fmt.Errorf("hfmeta: fetch config org/m: GET https://hub.example/org/m/resolve/main/config.json: 401 Unauthorized: %w", hfmeta.ErrGated)
	notFound := fmt.Errorf("hfmeta: fetch config org/m: 404 Not Found: %w", hfmeta.ErrNotFound)
	for _, tt := range []struct {
		name       string
		err        error
		code       int
		isNotFound bool
		isGated    bool
	}{
		{"gated", cmdutil.WithExitCode(gated, cmdutil.ExitGated), cmdutil.ExitGated, false, true},
		{"not found", cmdutil.WithExitCode(notFound, cmdutil.ExitNotFound), cmdutil.ExitNotFound, true, false},
		{"timeout", fmt.Errorf("GET x: %w", context.DeadlineExceeded), cmdutil.ExitError, false, false},
		{"two lines, no hint", errors.New("first line\nsecond line"), cmdutil.ExitError, false, false},
		{"usage", cmdutil.Usage("run `vramcalc-hub --help` for usage", "want one repo id"), cmdutil.ExitUsage, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			child := run(t, tt.err)
			if child.code != tt.code {
				t.Fatalf("child exit %d, want %d", child.code, tt.code)
			}
			err := cmdutil.CompanionFailure(cmdutil.HubProgram, child.code, child.stderr)
			if errors.Is(err, hfmeta.ErrNotFound) != tt.isNotFound || errors.Is(err, hfmeta.ErrGated) != tt.isGated {
				t.Errorf("not found %v, gated %v; want %v, %v", errors.Is(err, hfmeta.ErrNotFound), errors.Is(err, hfmeta.ErrGated), tt.isNotFound, tt.isGated)
			}
			parent := run(t, err)
			if parent.stderr != child.stderr || parent.code != cmdutil.ExitError {
				t.Errorf("vramcalc prints (exit %d)\n%s\nvramcalc-hub printed (exit %d)\n%s", parent.code, parent.stderr, child.code, child.stderr)
			}
		})
	}

	// A child that died without an error line.
	err := cmdutil.CompanionFailure(cmdutil.HubProgram, 2, "panic: boom\n\ngoroutine 1 [running]:\n")
	if err.Error() != "vramcalc-hub: exit status 2: panic: boom\n\ngoroutine 1 [running]:" || cmdutil.Hint(err) != "" || errors.Is(err, hfmeta.ErrNotFound) {
		t.Errorf("%q (hint %q)", err, cmdutil.Hint(err))
	}
	if err := cmdutil.CompanionFailure(cmdutil.HubProgram, 1, ""); err.Error() != "vramcalc-hub: exit status 1" {
		t.Errorf("%q", err)
	}
}

type printed struct {
	stderr string
	code   int
}

// run is a program whose action fails with err, run through cmdutil.Run.
func run(t *testing.T, err error) printed {
	t.Helper()
	var out, errb bytes.Buffer
	e := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	root := cmdutil.Prepare(&cli.Command{Name: "p", Action: func(context.Context, *cli.Command) error { return err }}, e)
	code := cmdutil.Run(context.Background(), root, []string{"p"}, e)
	if out.Len() != 0 {
		t.Errorf("stdout %q", out.String())
	}
	return printed{errb.String(), code}
}

// timeoutErr is a net.Error's Timeout without net.
type timeoutErr bool

func (e timeoutErr) Error() string   { return "i/o timeout" }
func (e timeoutErr) Timeout() bool   { return bool(e) }
func (e timeoutErr) Temporary() bool { return false }

// TestHintTimeout: the timeout hint without importing net: the context's
// and the os package's deadline errors and any error with Timeout() true.
func TestHintTimeout(t *testing.T) {
	const hint = "the Hub did not answer in time: check the network, or set HF_HUB_OFFLINE=1 to use the cache and the catalog"
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("GET x: %w", context.DeadlineExceeded), hint},
		{fmt.Errorf("GET x: read tcp: %w", os.ErrDeadlineExceeded), hint},
		{fmt.Errorf("GET x: %w", timeoutErr(true)), hint},
		{fmt.Errorf("GET x: %w", timeoutErr(false)), ""},
		{errors.New("GET x: connection refused"), ""},
	} {
		if got := cmdutil.Hint(tt.err); got != tt.want {
			t.Errorf("Hint(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestClientDeadline: --timeout bounds Client's Hub step as a whole; a Hub
// step still waiting at the deadline gives MetadataTimeout's error and
// hint, while an interrupt before it stays an interrupt.
func TestClientDeadline(t *testing.T) {
	var left time.Duration
	e := cmdutil.Env{
		Getenv: func(k string) string { return map[string]string{"HF_HOME": t.TempDir()}[k] },
		Hub: func(ctx context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
			if dl, ok := ctx.Deadline(); ok {
				left = time.Until(dl)
			}
			<-ctx.Done()
			return hfmeta.Meta{}, fmt.Errorf("GET x: %w", ctx.Err())
		},
	}
	var err error
	cmd := &cli.Command{Name: "x", Flags: cmdutil.ModelFlags(), Action: func(ctx context.Context, c *cli.Command) error {
		_, err = cmdutil.Client(c, e).Resolve(ctx, "org/model")
		return nil
	}}
	if e := cmd.Run(context.Background(), []string{"x", "--timeout", "50ms"}); e != nil {
		t.Fatal(e)
	}
	// In-process (Env.Hub) the deadline is --timeout itself, no grace.
	if left <= 0 || left > 50*time.Millisecond {
		t.Errorf("the Hub step had %v, want at most 50ms", left)
	}
	const want = "model metadata: no answer within 50ms: GET x: context deadline exceeded"
	const hint = "raise --timeout (now 50ms) if the Hub is slow, or pass --offline with a local model directory or a model in the HF cache"
	if err == nil || err.Error() != want || cmdutil.Hint(err) != hint || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v (hint %q)\nwant %s (hint %q)", err, cmdutil.Hint(err), want, hint)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if e := cmd.Run(ctx, []string{"x", "--timeout", "10s"}); e != nil {
		t.Fatal(e)
	}
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "no answer within") {
		t.Errorf("interrupted: %v", err)
	}
}

// TestHintNotFound: "allow network access" only when the Hub was skipped
// because of offline mode; a hint the error carries (vramcalc-hub's for a
// 404) wins.
func TestHintNotFound(t *testing.T) {
	offline := fmt.Errorf("hfmeta: resolve %q: %w (no directory) and %w", "org/m", hfmeta.ErrNotFound, hfmeta.ErrOffline)
	noHub := fmt.Errorf("hfmeta: resolve %q: %w: no such directory", "./m", hfmeta.ErrNotFound)
	asked := cmdutil.WithHint(fmt.Errorf("GET x: 404 Not Found: %w", hfmeta.ErrNotFound), "the Hub has no repo org/m")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{offline, "pass a local directory holding config.json, or allow network access (no --offline, HF_HUB_OFFLINE unset) to read the Hub; `vramcalc models` lists the built-in catalog"},
		{noHub, "check the model id, or pass a local directory holding config.json; `vramcalc models` lists the built-in catalog"},
		{asked, "the Hub has no repo org/m"},
	} {
		if got := cmdutil.Hint(tt.err); got != tt.want {
			t.Errorf("Hint(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestOversizeConfigHint: a local config.json one byte over
// hfmeta.MaxConfigSize (16 MiB) is refused with a hint naming the limits.
func TestOversizeConfigHint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), make([]byte, hfmeta.MaxConfigSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := (&hfmeta.Client{}).Resolve(context.Background(), dir)
	const hint = "no real model's config.json is over 16 MiB or its safetensors index over 64 MiB: check the repo or directory"
	if !errors.Is(err, hfmeta.ErrFileTooLarge) || cmdutil.Hint(err) != hint || !strings.Contains(err.Error(), "is larger than 16777216 bytes") {
		t.Errorf("err %v, hint %q", err, cmdutil.Hint(err))
	}
}
