package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

const testToken = "hf_vramcalcSecretTokenValue"

// fakeHub serves hfmeta's Hub fixtures (<org>/<repo>/resolve/main/<file>);
// the gated repo answers 401 without the test token and 403 with another.
func fakeHub(t *testing.T) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(filepath.Join("..", "..", "hfmeta", "testdata", "hub")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/slow/"):
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			return
		case strings.HasPrefix(r.URL.Path, "/vramcalc-test/gated-model/"):
			switch r.Header.Get("Authorization") {
			case "Bearer " + testToken:
			case "":
				http.Error(w, "Access to model vramcalc-test/gated-model is restricted.", http.StatusUnauthorized)
				return
			default:
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// runOnline runs vramcalc against the fake Hub with the given extra env.
func runOnline(t *testing.T, hub string, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	all := map[string]string{"HF_ENDPOINT": hub, "HF_HOME": t.TempDir()}
	for k, v := range vars {
		all[k] = v
	}
	return cmdtest.RunEnv(t, newApp, all, args...)
}

func TestHubErrorsAndToken(t *testing.T) {
	hub := fakeHub(t)
	cases := []struct {
		name     string
		vars     map[string]string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{
			name:   "gated without token",
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: ", "401", "vramcalc: hint: the repo is gated or private", "HF_TOKEN"},
		},
		{
			name:   "gated with a wrong token",
			vars:   map[string]string{"HF_TOKEN": "hf_wrongTokenValue123"},
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"403", "vramcalc: hint: the repo is gated or private"},
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
			name:   "not found",
			args:   []string{"estimate", "vramcalc-test/no-such-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"404", "vramcalc: hint: pass a local directory"},
		},
		{
			name:   "truncated header",
			args:   []string{"estimate", "vramcalc-test/truncated-header", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: ", "vramcalc: hint: the safetensors file looks corrupt or incomplete"},
		},
		{
			name:   "oversized header",
			args:   []string{"estimate", "vramcalc-test/huge-header", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"200000000", "vramcalc: hint: the safetensors file looks corrupt or incomplete"},
		},
		{
			name:   "timeout",
			args:   []string{"estimate", "vramcalc-test/slow", "--gpu", "L4", "--timeout", "200ms"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: error: ", "vramcalc: hint: the Hub did not answer in time"},
		},
		{
			name:   "offline skips the Hub",
			vars:   map[string]string{"HF_HUB_OFFLINE": "1", "HF_TOKEN": testToken},
			args:   []string{"estimate", "vramcalc-test/gated-model", "--gpu", "L4"},
			code:   cmdutil.ExitError,
			stderr: []string{"vramcalc: hint: pass a local directory"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runOnline(t, hub.URL, c.vars, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			for _, s := range c.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if code != cmdutil.ExitOK && out != "" {
				t.Errorf("stdout on error: %q", out)
			}
			for _, secret := range []string{testToken, "hf_wrongTokenValue123"} {
				if strings.Contains(out+errOut, secret) {
					t.Errorf("the token appears in the output")
				}
			}
		})
	}
}

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
	var rep report
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
