package hubcmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/hub"
	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
)

// TestPrintsMeta: vramcalc-hub prints the Meta hfmeta/hub reads, as JSON
// that decodes to the same value (tensors, labels, bytes read, warnings).
func TestPrintsMeta(t *testing.T) {
	srv := cmdtest.FakeHub(t)
	for _, tt := range []struct {
		repo     string
		vars     map[string]string
		layers   int
		tensors  int64 // tensors counted with their Count
		from     string
		warnings int
	}{
		// Qwen3-0.6B: 311 BF16 tensors in one header-only model.safetensors.
		{"vramcalc-test/qwen-copy", nil, 28, 311, estimate.WeightsFromSafetensors, 0},
		// config.json only, behind the token: weights from the config, with a warning.
		{"vramcalc-test/gated-model", map[string]string{"HF_TOKEN": cmdtest.HubToken}, 28, 0, "", 1},
	} {
		t.Run(tt.repo, func(t *testing.T) {
			vars := map[string]string{"HF_ENDPOINT": srv.URL + "/"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			out, errOut, code := cmdtest.RunEnvWith(t, hubcmd.Root, vars, nil, tt.repo)
			if code != cmdutil.ExitOK || errOut != "" {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got hfmeta.Meta
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout is not a Meta: %v\n%s", err, out)
			}
			want, err := (&hub.Client{Endpoint: srv.URL, Token: tt.vars["HF_TOKEN"]}).Fetch(context.Background(), tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("printed %+v\nwant    %+v", got, want)
			}
			var n int64
			for _, ts := range got.Model.Tensors {
				n += ts.N()
			}
			if got.Source != hfmeta.SourceHub || got.Location != srv.URL+"/"+tt.repo+"/resolve/main" || got.Model.ID != tt.repo ||
				got.Model.Layers != tt.layers || n != tt.tensors || got.Model.TensorsFrom != tt.from || len(got.Warnings) != tt.warnings || got.BytesRead == 0 {
				t.Errorf("Source %q, Location %q, ID %q, %d layers, %d tensors from %q, warnings %q, %d bytes read",
					got.Source, got.Location, got.Model.ID, got.Model.Layers, n, got.Model.TensorsFrom, got.Warnings, got.BytesRead)
			}
			if strings.Contains(out, cmdtest.HubToken) {
				t.Error("the token is in the output")
			}
		})
	}
}

// TestExitCodes: not found and gated have exit codes of their own, which
// cmdutil.HubCompanion turns back into hfmeta.ErrNotFound and ErrGated;
// nothing is printed on stdout when it fails, and the error and hint are
// printed once.
func TestExitCodes(t *testing.T) {
	srv := cmdtest.FakeHub(t)
	for _, tt := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		err  string
		hint string
	}{
		// The Hub was asked: the hint never says to allow network access.
		{"not found", nil, []string{"vramcalc-test/missing"}, cmdutil.ExitNotFound,
			"hfmeta: fetch config vramcalc-test/missing: GET " + srv.URL + "/vramcalc-test/missing/resolve/main/config.json: 404 Not Found: not found",
			`the Hub has no repo vramcalc-test/missing with that file at revision "main": check the id and --revision; a private repo needs HF_TOKEN set to a token with read access`},
		{"not found with a token", map[string]string{"HF_TOKEN": "hf_someTokenValue"}, []string{"vramcalc-test/missing"}, cmdutil.ExitNotFound,
			"hfmeta: fetch config vramcalc-test/missing: GET " + srv.URL + "/vramcalc-test/missing/resolve/main/config.json: 404 Not Found: not found",
			`the Hub has no repo vramcalc-test/missing with that file at revision "main": check the id and --revision; if the repo is private, the token given may have no access to it`},
		{"gated", nil, []string{"vramcalc-test/gated-model"}, cmdutil.ExitGated,
			"hfmeta: fetch config vramcalc-test/gated-model: GET " + srv.URL + "/vramcalc-test/gated-model/resolve/main/config.json: 401 Unauthorized: the repo is gated or private (or does not exist); a token with access is needed",
			"the repo is gated or private: accept its terms on the Hub, then set HF_TOKEN to a token with read access"},
		{"gated, another token", map[string]string{"HF_TOKEN": "hf_otherTokenValue"}, []string{"vramcalc-test/gated-model"}, cmdutil.ExitGated,
			"hfmeta: fetch config vramcalc-test/gated-model: GET " + srv.URL + "/vramcalc-test/gated-model/resolve/main/config.json: 403 Forbidden: the repo is gated or private and the token has no access to it; request access on the model page",
			"the repo is gated or private: accept its terms on the Hub, then set HF_TOKEN to a token with read access"},
		{"another revision", nil, []string{"--revision", "v2", "vramcalc-test/qwen-copy"}, cmdutil.ExitNotFound,
			"hfmeta: fetch config vramcalc-test/qwen-copy: GET " + srv.URL + "/vramcalc-test/qwen-copy/resolve/v2/config.json: 404 Not Found: not found",
			`the Hub has no repo vramcalc-test/qwen-copy with that file at revision "v2": check the id and --revision; a private repo needs HF_TOKEN set to a token with read access`},
		{"header too large", nil, []string{"vramcalc-test/huge-header"}, cmdutil.ExitError,
			"hfmeta: fetch header vramcalc-test/huge-header model.safetensors: safetensors header too large: length prefix says 200000000 bytes, the limit is 100000000",
			"the safetensors file looks corrupt or incomplete: download it again"},
		{"offline", map[string]string{"HF_HUB_OFFLINE": "1"}, []string{"vramcalc-test/qwen-copy"}, cmdutil.ExitError,
			"hfmeta: hub vramcalc-test/qwen-copy: offline mode, the hub was not asked", ""},
		{"not a repo id", nil, []string{"org/a--b"}, cmdutil.ExitError,
			`hfmeta: hub: "org/a--b" is not a repo id: "--" and ".." are not allowed`, ""},
		{"no repo", nil, nil, cmdutil.ExitUsage,
			"want one repo id (org/name), got 0 arguments", "run `vramcalc-hub --help` for usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"HF_ENDPOINT": srv.URL}
			for k, v := range tt.vars {
				vars[k] = v
			}
			out, errOut, code := cmdtest.RunEnvWith(t, hubcmd.Root, vars, nil, tt.args...)
			want := "vramcalc: error: " + tt.err + "\n"
			if tt.hint != "" {
				want += "vramcalc: hint: " + tt.hint + "\n"
			}
			if code != tt.code || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr\n%s\nwant exit %d and\n%s", code, out, errOut, tt.code, want)
			}
			// What the parent makes of it.
			err := cmdutil.CompanionFailure(cmdutil.HubProgram, code, errOut)
			if err.Error() != tt.err || cmdutil.Hint(err) != tt.hint ||
				errors.Is(err, hfmeta.ErrNotFound) != (tt.code == cmdutil.ExitNotFound) || errors.Is(err, hfmeta.ErrGated) != (tt.code == cmdutil.ExitGated) {
				t.Errorf("read back as %q (hint %q, not found %v, gated %v)", err, cmdutil.Hint(err), errors.Is(err, hfmeta.ErrNotFound), errors.Is(err, hfmeta.ErrGated))
			}
		})
	}
}

// TestTimeout: --timeout bounds the whole read; past it the error says
// so, with the request it was waiting on, and hints at --timeout and
// --offline.
func TestTimeout(t *testing.T) {
	srv := cmdtest.FakeHub(t)
	start := time.Now()
	out, errOut, code := cmdtest.RunEnvWith(t, hubcmd.Root, map[string]string{"HF_ENDPOINT": srv.URL}, nil, "--timeout", "150ms", "vramcalc-test/slow")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	want := "vramcalc: error: model metadata: no answer within 150ms: hfmeta: fetch config vramcalc-test/slow: GET " + srv.URL + "/vramcalc-test/slow/resolve/main/config.json: context deadline exceeded\n" +
		"vramcalc: hint: raise --timeout (now 150ms) if the Hub is slow, or pass --offline with a local model directory or a model in the HF cache\n"
	if code != cmdutil.ExitError || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errOut, want)
	}
}

// TestInProcess: the Env option programs that link net/http use.
func TestInProcess(t *testing.T) {
	var e cmdutil.Env
	hubcmd.InProcess(&e)
	srv := cmdtest.FakeHub(t)
	m, err := e.Hub(context.Background(), cmdutil.HubRequest{Repo: "vramcalc-test/gated-model", Endpoint: srv.URL, Token: cmdtest.HubToken, Revision: "main", Timeout: time.Second})
	if err != nil || m.Model.Layers != 28 || m.Source != hfmeta.SourceHub {
		t.Errorf("%d layers from %q, err %v", m.Model.Layers, m.Source, err)
	}
}
