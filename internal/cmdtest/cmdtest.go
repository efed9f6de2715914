// Package cmdtest holds what the tests of vramcalc's programs share: running
// a command in-process with an offline environment, building the programs,
// and the Docker Engine with the TGI simulator image. Tests only.
package cmdtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/internal/hubcmd"
	"github.com/vramcalc/vramcalc/probe/docker"
)

// Run runs the program root (its name first in args is added) in-process
// with an offline environment and a Hugging Face home of its own, and
// returns what it printed and its exit code.
func Run(t testing.TB, root func(cmdutil.Env) *cli.Command, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return RunEnv(t, root, map[string]string{"HF_HUB_OFFLINE": "1", "HF_HOME": t.TempDir()}, args...)
}

// RunEnv is Run with the given environment variables (and no others). A
// model the command reads from the Hub is read in this process
// (hubcmd.InProcess), so no vramcalc-hub needs to be built.
func RunEnv(t testing.TB, root func(cmdutil.Env) *cli.Command, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	return RunEnvWith(t, root, vars, hubcmd.InProcess, args...)
}

// RunEnvWith is RunEnv with setup in place of hubcmd.InProcess: e.g.
// func(e *cmdutil.Env) { e.Hub = cmdutil.HubCompanion } runs vramcalc-hub
// as a child, found next to the test binary or on PATH.
func RunEnvWith(t testing.TB, root func(cmdutil.Env) *cli.Command, vars map[string]string, setup func(*cmdutil.Env), args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := cmdutil.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }}
	if setup != nil {
		setup(&e)
	}
	code := cmdutil.Run(context.Background(), root(e), append([]string{"vramcalc"}, args...), e)
	return out.String(), errb.String(), code
}

// ModuleRoot is the directory of go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// Build builds the named programs of cmd/ (vramcalc, vramcalc-validate, …)
// into one temporary directory, as `go install ./cmd/...` puts them side by
// side, and returns it.
func Build(t testing.TB, programs ...string) string {
	t.Helper()
	dir, root := t.TempDir(), ModuleRoot(t)
	for _, p := range programs {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, p), "./cmd/"+p)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p, err, out)
		}
	}
	return dir
}

// Docker returns a Docker runtime, or skips when no engine answers (CI has
// one: .ci/run checks it before the tests, and sets
// VRAMCALC_REQUIRE_DOCKER=1, which makes a missing engine a failure).
func Docker(t testing.TB) *docker.Runtime {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
		skip = t.Fatalf
	}
	d, err := docker.New()
	if err != nil {
		skip("no Docker Engine: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.Ping(ctx); err != nil {
		skip("no Docker Engine answers (%v): the validate integration tests need one", err)
	}
	return d
}

// SimImage builds the TGI simulator image (SimImageFor "tgisim").
func SimImage(t testing.TB) string {
	t.Helper()
	return SimImageFor(t, "tgisim")
}
