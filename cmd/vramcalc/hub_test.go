package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/calccmd"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
)

const testToken = cmdtest.HubToken

func fakeHub(t *testing.T) *httptest.Server { return cmdtest.FakeHub(t) }

// hubModes are the two ways vramcalc reads the Hub: vramcalc-hub as a
// child process, as the vramcalc program does (Env.Hub nil; TestMain puts
// vramcalc-hub on PATH), and in this process (hubcmd.InProcess, as
// cmdtest.RunEnv wires it and vramcalc-validate does).
var hubModes = []struct {
	name  string
	setup func(*cmdutil.Env)
}{
	{"vramcalc-hub", func(*cmdutil.Env) {}},
	{"in-process", hubcmd.InProcess},
}

// runOnline runs vramcalc against the fake Hub with the given extra env
// (HF_HOME defaults to a new directory), reading the Hub as setup says.
func runOnline(t *testing.T, setup func(*cmdutil.Env), hub string, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	all := map[string]string{"HF_ENDPOINT": hub, "HF_HOME": t.TempDir()}
	for k, v := range vars {
		all[k] = v
	}
	return cmdtest.RunEnvWith(t, newApp, all, setup, args...)
}

// TestHubErrorsAndToken runs each case through vramcalc-hub and in-process:
// the exit code, the report and the error and hint lines are the same
// byte for byte, the error is printed once, and no token is printed.
func TestHubErrorsAndToken(t *testing.T) {
	hub := fakeHub(t)
	cases := []struct {
		name   string
		vars   map[string]string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name:   "gated without token",
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: fetch config vramcalc-test/gated-model: GET " + hub.URL + "/vramcalc-test/gated-model/resolve/main/config.json: 401 Unauthorized: the repo is gated or private (or does not exist); a token with access is needed\n", "vramcalc: hint: the repo is gated or private: accept its terms on the Hub, then set HF_TOKEN to a token with read access\n"},
		},
		{
			name:   "gated with a wrong token",
			vars:   map[string]string{"HF_TOKEN": "hf_wrongTokenValue123"},
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{": 403 Forbidden: the repo is gated or private and the token has no access to it; request access on the model page\n", "vramcalc: hint: the repo is gated or private"},
		},
		{
			name: "gated with the token",
			vars: map[string]string{"HF_TOKEN": testToken},
			args: []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4", "-o", "json"},
			code: cmdutil.ExitOK,
			// Qwen3-0.6B's shapes: 28 layers, 8 KV heads of 128: 2·28·8·128·2 = 114,688 B/token.
			// The fixture repo has config.json only, so weights come from the architecture.
			stdout: []string{`"model_source": "hub"`, `"weights_from": "config.json"`, `"kv_bytes_per_token": 114688`},
		},
		{
			name:   "the token from the token file",
			vars:   map[string]string{"HF_TOKEN_PATH": tokenFile(t, testToken)},
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4", "-o", "json"},
			code:   cmdutil.ExitOK,
			stdout: []string{`"model_source": "hub"`, `"kv_bytes_per_token": 114688`},
		},
		{
			name: "safetensors headers",
			args: []string{"estimate", "vramcalc-test/qwen-copy", "--gpu", "T4", "-o", "json"},
			code: cmdutil.ExitOK,
			// As TestLocalDirectory: (751,632,384 + 1,024) · 2 B.
			stdout: []string{`"model_source": "hub"`, `"weights_from": "safetensors headers"`, `"weights_bytes": 1503266816`},
		},
		{
			name:   "another revision",
			args:   []string{"estimate", "vramcalc-test/qwen-copy", "--gpu", "T4", "--revision", "v2.0"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: fetch config vramcalc-test/qwen-copy: GET " + hub.URL + "/vramcalc-test/qwen-copy/resolve/v2.0/config.json: 404 Not Found: not found (also: "},
		},
		{
			name: "not found",
			args: []string{"estimate", "vramcalc-test/no-such-model", "--gpu", "L4"},
			code: cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: fetch config vramcalc-test/no-such-model: GET " + hub.URL + "/vramcalc-test/no-such-model/resolve/main/config.json: 404 Not Found: not found (also: no directory \"vramcalc-test/no-such-model\", not in the HF cache ",
				// The Hub was asked: no word of allowing network access.
				"vramcalc: hint: the Hub has no repo vramcalc-test/no-such-model with that file at revision \"main\": check the id and --revision; a private repo needs HF_TOKEN set to a token with read access\n"},
		},
		{
			name:   "not found, close to a catalog model",
			args:   []string{"estimate", "meta-llama/Llama-3.1-8B-Instruc", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"404 Not Found: not found (also: ", "vramcalc: hint: did you mean meta-llama/Llama-3.1-8B-Instruct? (`vramcalc models` lists the built-in catalog)\n"},
		},
		{
			name:   "truncated header",
			args:   []string{"estimate", "vramcalc-test/truncated-header", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: fetch header vramcalc-test/truncated-header model.safetensors: safetensors header truncated: length prefix says 4096 bytes, the file has 48 after it\n", "vramcalc: hint: the safetensors file looks corrupt or incomplete"},
		},
		{
			name:   "oversized header",
			args:   []string{"estimate", "vramcalc-test/huge-header", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"200000000", "vramcalc: hint: the safetensors file looks corrupt or incomplete"},
		},
		{
			name: "timeout",
			args: []string{"estimate", "vramcalc-test/slow", "--gpu", "L4", "--timeout", "200ms"},
			code: cmdutil.ExitError,
			stderr: []string{"vramcalc: error: model metadata: no answer within 200ms: hfmeta: fetch config vramcalc-test/slow: GET " + hub.URL + "/vramcalc-test/slow/resolve/main/config.json: context deadline exceeded\n",
				"vramcalc: hint: raise --timeout (now 200ms) if the Hub is slow, or pass --offline with a local model directory or a model in the HF cache\n"},
		},
		{
			name: "rate limited",
			args: []string{"estimate", "vramcalc-test/rate-limited", "--gpu", "L4"},
			code: cmdutil.ExitError,
			// Retry-After: 0 each time: 1 + 5 retries.
			stderr: []string{"vramcalc: error: hfmeta: fetch config vramcalc-test/rate-limited: GET " + hub.URL + "/vramcalc-test/rate-limited/resolve/main/config.json: 429 Too Many Requests (6 attempts)\n",
				"vramcalc: hint: the Hub is limiting this machine's requests: wait a few minutes and try again; requests with a token (HF_TOKEN) are allowed more\n"},
		},
		{
			name: "rate limited for an hour, with a token",
			vars: map[string]string{"HF_TOKEN": testToken},
			args: []string{"estimate", "vramcalc-test/rate-limited-long", "--gpu", "L4"},
			code: cmdutil.ExitError,
			stderr: []string{": 429 Too Many Requests: Retry-After asks to wait 1h0m0s, more than the 30s this client waits\n",
				"vramcalc: hint: the Hub is limiting this machine's requests: wait a few minutes and try again\n"},
		},
		{
			name: "server error",
			args: []string{"estimate", "vramcalc-test/hub-error", "--gpu", "L4"},
			code: cmdutil.ExitError,
			stderr: []string{": 503 Service Unavailable (6 attempts)\n",
				"vramcalc: hint: the Hub (" + hub.URL + ") failed to answer: try again later; --offline reads a local directory, the HF cache or the built-in catalog\n"},
		},
		{
			name: "answer cut short",
			args: []string{"estimate", "vramcalc-test/cut-short", "--gpu", "L4"},
			code: cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: fetch config vramcalc-test/cut-short: GET " + hub.URL + "/vramcalc-test/cut-short/resolve/main/config.json: unexpected EOF\n",
				"vramcalc: hint: the connection closed before the Hub's answer was complete: try again; if it keeps happening, check the network or proxy (HTTPS_PROXY)\n"},
		},
		{
			name: "too many shards",
			args: []string{"estimate", "vramcalc-test/many-shards", "--gpu", "L4"},
			code: cmdutil.ExitError,
			stderr: []string{"vramcalc: error: hfmeta: vramcalc-test/many-shards model.safetensors.index.json names 1025 shard files, more than the 1024 read: too many shards\n",
				"vramcalc: hint: no real checkpoint has that many shards (DeepSeek-V3 has 163): check the repo;"},
		},
		{
			name:   "offline skips the Hub",
			vars:   map[string]string{"HF_HUB_OFFLINE": "1", "HF_TOKEN": testToken},
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"and offline mode, the hub was not asked\n", "vramcalc: hint: pass a local directory holding config.json, or allow network access (no --offline, HF_HUB_OFFLINE unset) to read the Hub; "},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"HF_HOME": t.TempDir()} // the same for both, as the messages name it
			for k, v := range c.vars {
				vars[k] = v
			}
			var first [3]string
			for i, m := range hubModes {
				out, errOut, code := runOnline(t, m.setup, hub.URL, vars, c.args...)
				if code != c.code {
					t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", m.name, code, c.code, out, errOut)
				}
				for _, s := range c.stdout {
					if !strings.Contains(out, s) {
						t.Errorf("%s: stdout lacks %q:\n%s", m.name, s, out)
					}
				}
				for _, s := range c.stderr {
					if !strings.Contains(errOut, s) {
						t.Errorf("%s: stderr lacks %q:\n%s", m.name, s, errOut)
					}
				}
				if code != cmdutil.ExitOK {
					if out != "" {
						t.Errorf("%s: stdout on error: %q", m.name, out)
					}
					if n := strings.Count(errOut, "vramcalc: error: "); n != 1 || strings.Count(errOut, "vramcalc: hint: ") != 1 {
						t.Errorf("%s: want one error and one hint line:\n%s", m.name, errOut)
					}
				}
				for _, secret := range []string{testToken, "hf_wrongTokenValue123"} {
					if strings.Contains(out+errOut, secret) {
						t.Errorf("%s: the token appears in the output", m.name)
					}
				}
				got := [3]string{out, errOut, strconv.Itoa(code)}
				if i == 0 {
					first = got
				} else if got != first {
					t.Errorf("%s prints otherwise than %s:\n%q\n%q", m.name, hubModes[0].name, got, first)
				}
			}
		})
	}
}

// tokenFile writes token to a file as huggingface-cli login does.
func tokenFile(t *testing.T, token string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHubCompanionNeverPrintsToken: when vramcalc-hub fails with the Hub
// echoing the token in bodies, headers and a redirect's query, neither
// vramcalc nor vramcalc-hub itself prints it, and vramcalc's exit code and
// lines are those of any error.
func TestHubCompanionNeverPrintsToken(t *testing.T) {
	hub := fakeHub(t)
	const secret = "hf_companionLEAKtoken0042"
	for _, repo := range []string{"vramcalc-test/gated-model", "vramcalc-test/broken", "vramcalc-test/slow"} {
		t.Run(repo, func(t *testing.T) {
			out, errOut, code := runOnline(t, func(*cmdutil.Env) {}, hub.URL, map[string]string{"HF_TOKEN": secret},
				"estimate", repo, "--gpu", "L4", "--timeout", "300ms")
			if code != cmdutil.ExitError || out != "" || !strings.Contains(errOut, "hfmeta: fetch config "+repo+": GET "+hub.URL+"/"+repo+"/resolve/main/config.json: ") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if strings.Contains(out+errOut, secret) || strings.Contains(out+errOut, "LEAK") {
				t.Errorf("vramcalc printed the token: %q", errOut)
			}

			// vramcalc-hub run as vramcalc runs it.
			path, err := cmdutil.FindCompanion(cmdutil.HubProgram)
			if err != nil {
				t.Fatal(err)
			}
			r := cmdutil.HubRequest{Repo: repo, Endpoint: hub.URL, Token: secret, Revision: "main", Timeout: 300 * time.Millisecond}
			cmd := exec.Command(path, cmdutil.HubArgs(r)...)
			cmd.Env = cmdutil.HubEnv(os.Environ(), r)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != wantHubCode[repo] {
				t.Errorf("vramcalc-hub: %v, want exit %d", err, wantHubCode[repo])
			}
			if stdout.Len() != 0 || strings.Contains(stderr.String(), "LEAK") || strings.Count(stderr.String(), "vramcalc: error: ") != 1 {
				t.Errorf("vramcalc-hub printed stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}

// wantHubCode is vramcalc-hub's exit code for TestHubCompanionNeverPrintsToken's repos.
var wantHubCode = map[string]int{"vramcalc-test/gated-model": cmdutil.ExitGated, "vramcalc-test/broken": cmdutil.ExitError, "vramcalc-test/slow": cmdutil.ExitError}

// TestLocalDirectory reads a local model directory with a synthesised
// header-only safetensors file, and reports a corrupt one with a hint.
func TestLocalDirectory(t *testing.T) {
	src := filepath.Join("..", "..", "hfmeta", "testdata", "hub", "Qwen", "Qwen3-0.6B", "resolve", "main")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runCLI(t, "estimate", dir, "--gpu", "T4", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep calccmd.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// Qwen3-0.6B's checkpoint stores lm_head.weight although its config says
	// tie_word_embeddings (its 751,632,384 parameters = embed 155,582,464 +
	// 28 layers × 15,730,944 + norm 1,024 + lm_head 155,582,464), so TGI
	// loads it as stored, plus the embedding's pad row:
	// (751,632,384 + 1,024) · 2 B = 1,503,266,816 B.
	if rep.ModelSource != "local" || rep.WeightsFrom != "safetensors headers" || rep.PerGPU.WeightsBytes != 1_503_266_816 {
		t.Errorf("source %q, weights from %q, %d B", rep.ModelSource, rep.WeightsFrom, rep.PerGPU.WeightsBytes)
	}
	if !strings.Contains(rep.LaunchCommand, "-v "+dir+":/data/model") || !strings.Contains(rep.LaunchCommand, "--model-id /data/model") {
		t.Errorf("launch command does not mount the local directory: %s", rep.LaunchCommand)
	}

	// A header length past the end of the file.
	bad := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(bad, "config.json"), cfg, 0o644)
	os.WriteFile(filepath.Join(bad, "model.safetensors"), []byte{0x00, 0x10, 0, 0, 0, 0, 0, 0, '{', '}'}, 0o644)
	_, errOut, code = runCLI(t, "estimate", bad, "--gpu", "T4")
	if code != cmdutil.ExitError || !strings.Contains(errOut, "vramcalc: hint: the safetensors file looks corrupt or incomplete") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestHubCompanionMissing: without vramcalc-hub next to vramcalc or on
// PATH, a model only the Hub has fails with the install hint, and models
// from the catalog need no companion.
func TestHubCompanionMissing(t *testing.T) {
	hub := fakeHub(t)
	t.Setenv("PATH", t.TempDir())
	out, errOut, code := runOnline(t, func(*cmdutil.Env) {}, hub.URL, nil, "estimate", "vramcalc-test/qwen-copy", "--gpu", "T4")
	want := "vramcalc: error: vramcalc-hub: program not found next to vramcalc or on PATH\n" +
		"vramcalc: hint: install the vramcalc programs together: go install github.com/vramcalc/vramcalc/cmd/...@latest (or go build -o DIR ./cmd/... from a checkout)\n"
	if code != cmdutil.ExitError || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and\n%s", code, out, errOut, want)
	}
	out, errOut, code = runOnline(t, func(*cmdutil.Env) {}, hub.URL, nil, "estimate", "Qwen/Qwen3-0.6B", "--gpu", "T4", "-o", "json")
	if code != cmdutil.ExitOK || !strings.Contains(out, `"model_source": "catalog"`) {
		t.Errorf("catalog model: exit %d, stderr %q", code, errOut)
	}
}

// TestHubCompanionInterrupted: Ctrl-C while vramcalc-hub waits on the Hub
// ends the child at once and vramcalc exits 130, as for any interrupt.
func TestHubCompanionInterrupted(t *testing.T) {
	hub := fakeHub(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	var out, errb strings.Builder
	e := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		return map[string]string{"HF_ENDPOINT": hub.URL, "HF_HOME": t.TempDir()}[k]
	}}
	start := time.Now()
	code := cmdutil.Run(ctx, newApp(e), []string{"vramcalc", "estimate", "vramcalc-test/slow", "--gpu", "L4", "--timeout", "10s"}, e)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v after the interrupt at 300ms", d)
	}
	if code != cmdutil.ExitInterrupted || out.String() != "" || errb.String() != "vramcalc: interrupted\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 130 and vramcalc: interrupted", code, out.String(), errb.String())
	}
}

// TestHubCompanionSIGINT sends a real SIGINT to a built vramcalc while its
// vramcalc-hub child waits on the Hub: vramcalc installs no handler when it
// starts (cmdutil.MainComputing) but HubCompanion does while the child
// runs, so the child is interrupted and vramcalc exits 130 with one line.
func TestHubCompanionSIGINT(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on Windows")
	}
	// A Hub that answers nothing and says when vramcalc-hub has asked.
	asked := make(chan struct{}, 1)
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hub.Close)
	bin := cmdtest.Build(t, "vramcalc", "vramcalc-hub")
	cmd := exec.Command(filepath.Join(bin, "vramcalc"), "estimate", "vramcalc-test/slow", "--gpu", "L4", "--timeout", "10s")
	cmd.Env = append(os.Environ(), "HF_ENDPOINT="+hub.URL, "HF_HOME="+t.TempDir(), "HF_TOKEN=", "HF_HUB_OFFLINE=")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked: // vramcalc-hub waits on the Hub, and vramcalc on it
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("vramcalc-hub never asked the Hub")
	}
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v after SIGINT", d)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitInterrupted {
		t.Errorf("exit: %v, want code %d", err, cmdutil.ExitInterrupted)
	}
	if out.String() != "" || errb.String() != "vramcalc: interrupted\n" {
		t.Errorf("stdout %q, stderr %q; want nothing and vramcalc: interrupted", out.String(), errb.String())
	}
}

// TestBuiltBinaryHubHints runs the built vramcalc, with the built
// vramcalc-hub beside it, against the fake Hub: a 429 on every attempt and
// a Hub that never answers within --timeout print these error and hint
// lines, and never the token.
func TestBuiltBinaryHubHints(t *testing.T) {
	hub := fakeHub(t)
	bin := cmdtest.Build(t, "vramcalc", "vramcalc-hub")
	for _, tt := range []struct {
		repo   string
		stderr string
	}{
		{"vramcalc-test/rate-limited", "vramcalc: error: hfmeta: fetch config vramcalc-test/rate-limited: GET " + hub.URL + "/vramcalc-test/rate-limited/resolve/main/config.json: 429 Too Many Requests (6 attempts)\n" +
			"vramcalc: hint: the Hub is limiting this machine's requests: wait a few minutes and try again\n"},
		{"vramcalc-test/slow", "vramcalc: error: model metadata: no answer within 300ms: hfmeta: fetch config vramcalc-test/slow: GET " + hub.URL + "/vramcalc-test/slow/resolve/main/config.json: context deadline exceeded\n" +
			"vramcalc: hint: raise --timeout (now 300ms) if the Hub is slow, or pass --offline with a local model directory or a model in the HF cache\n"},
	} {
		t.Run(tt.repo, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, "vramcalc"), "estimate", tt.repo, "--gpu", "L4", "--timeout", "300ms")
			cmd.Env = append(os.Environ(), "HF_ENDPOINT="+hub.URL, "HF_HOME="+t.TempDir(), "HF_TOKEN="+testToken, "HF_HUB_OFFLINE=")
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitError || out.String() != "" || errb.String() != tt.stderr {
				t.Errorf("exit %v, stdout %q, stderr\n%s\nwant exit 1 and\n%s", err, out.String(), errb.String(), tt.stderr)
			}
			if strings.Contains(out.String()+errb.String(), testToken) {
				t.Error("the token is printed")
			}
		})
	}
}
