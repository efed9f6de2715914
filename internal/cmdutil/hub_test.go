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
