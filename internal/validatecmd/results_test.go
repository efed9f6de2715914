package validatecmd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/probe"
	"github.com/vramcalc/vramcalc/probe/results"
)

// TestValidateErrorHints: each way the results file fails gets a hint
// saying what to do, as the errors reach the command (wrapped by package
// results); a file system error of another path (the Docker socket) gets
// none of the --out hints.
func TestValidateErrorHints(t *testing.T) {
	const out = "runs/results.jsonl"
	pathErr := func(op string, errno syscall.Errno) error { return &fs.PathError{Op: op, Path: out, Err: errno} }
	const (
		fullHint     = "the disk holding --out is full (the file ends with its last whole record): free space, then run again with --resume"
		readOnlyHint = "--out cannot be written (a read-only file or file system): give an --out in a writable directory"
	)
	for _, tc := range []struct {
		name string
		err  error
		hint string
	}{
		{"locked", fmt.Errorf("results: %s is in use by run 1767225600-0123456789abcdef: %w", out, results.ErrLocked),
			"another vramcalc validate is writing --out: wait for it to end, or give this run another --out"},
		{"not results", fmt.Errorf("results: %s: line 1: %w: invalid character 'h'", out, results.ErrNotResults),
			"--out names a file validate did not write; it was left as it is: give another --out"},
		{"corrupt line", fmt.Errorf("results: %s: line 7: %w: unexpected end of JSON input", out, results.ErrCorrupt),
			"the file was left as it is: fix or delete that line, or move the file aside and start a new --out"},
		{"full disk", fmt.Errorf("results: write observation 3 to %s: %w", out, pathErr("write", syscall.ENOSPC)),
			fullHint},
		{"full disk at fsync", fmt.Errorf("results: sync observation 3 to %s: %w", out, pathErr("sync", syscall.ENOSPC)),
			fullHint},
		{"quota", fmt.Errorf("results: write observation 3 to %s: %w", out, pathErr("write", syscall.EDQUOT)),
			fullHint},
		{"read-only file", fmt.Errorf("results: open %s: %w", out, pathErr("open", syscall.EACCES)),
			readOnlyHint},
		{"read-only file system", fmt.Errorf("results: open %s: %w", out, pathErr("open", syscall.EROFS)),
			readOnlyHint},
		{"no directory", fmt.Errorf("results: open %s: %w", out, pathErr("open", syscall.ENOENT)),
			"the directory of --out does not exist: create it, or give another --out"},
		{"directory", fmt.Errorf("results: open %s: %w", out, pathErr("open", syscall.EISDIR)),
			"--out is a directory: name a file in it, e.g. --out DIR/results.jsonl"},
		{"docker socket", fmt.Errorf("docker: ping: %w", &fs.PathError{Op: "dial", Path: "docker.sock", Err: syscall.EACCES}), ""},
		{"no engine", fmt.Errorf("docker: %w", probe.ErrNoEngine), "validate needs a Docker Engine: start it, or set DOCKER_HOST"},
	} {
		err := validateError(tc.err, out, engineSpecs["tgi"])
		if got := cmdutil.Hint(err); got != tc.hint || !errors.Is(err, tc.err) {
			t.Errorf("%s: hint %q, want %q", tc.name, got, tc.hint)
		}
	}
}

// TestValidateOutReadOnly: a read-only --out directory, through the real
// open: the error names the file and the hint says to give a writable one.
// (As root, permission bits do not stop a write: the test needs a user.)
func TestValidateOutReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results.jsonl")
	_, _, err := results.OpenStore(out)
	if got := cmdutil.Hint(validateError(err, out, engineSpecs["tgi"])); !errors.Is(err, fs.ErrPermission) || !strings.HasPrefix(got, "--out cannot be written") {
		t.Errorf("%v: hint %q", err, got)
	}
}

// buildValidate builds vramcalc and vramcalc-validate (which `vramcalc
// validate` runs) and returns vramcalc's path.
func buildValidate(t *testing.T) string {
	return filepath.Join(cmdtest.Build(t, "vramcalc", "vramcalc-validate"), "vramcalc")
}

// validateCmd is `vramcalc validate args` with an offline environment plus env.
func validateCmd(t *testing.T, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"validate"}, args...)...)
	cmd.Env = append(append(os.Environ(), "HF_HUB_OFFLINE=1", "HF_HOME="+t.TempDir()), env...)
	return cmd
}

// TestValidateNoEngineNoFile: with no Docker Engine at DOCKER_HOST, validate
// fails with the engine's hint and creates no --out file.
func TestValidateNoEngineNoFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	cmd := validateCmd(t, buildValidate(t), []string{"DOCKER_HOST=unix://" + filepath.Join(dir, "absent.sock")}, simArgs("vramcalc/tgisim:dev", out)...)
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitError || !strings.Contains(string(b), "hint: validate needs a Docker Engine") {
		t.Errorf("exit %v:\n%s", err, b)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--out exists after a run without an engine: %v", err)
	}
}

// TestValidateSecondRunOnSameOut: while another process holds --out (its
// lock and a run header), a second validate on it exits 1 naming that
// run, with a hint, before any launch or pull (the image does not exist),
// and the file is unchanged.
func TestValidateSecondRunOnSameOut(t *testing.T) {
	d := cmdtest.Docker(t)
	out := filepath.Join(t.TempDir(), "results.jsonl")
	holder := exec.Command(os.Args[0])
	holder.Env = append(os.Environ(), "VRAMCALC_HOLD_RESULTS="+out)
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	var line [64]byte
	n, _ := stdout.Read(line[:]) // "held <run id>" once the header is on disk
	if id, ok := strings.CutPrefix(strings.TrimSpace(string(line[:n])), "held "); !ok || id != heldRun {
		t.Fatalf("holder said %q", line[:n])
	}
	before, _ := os.ReadFile(out)
	image := fmt.Sprintf("vramcalc/absent:test-%d-%d", os.Getpid(), time.Now().UnixNano())
	b, err := validateCmd(t, buildValidate(t), nil, simArgs(image, out)...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitError || !strings.Contains(string(b), "is in use by run "+heldRun+": locked by another vramcalc validate") ||
		!strings.Contains(string(b), "hint: another vramcalc validate is writing --out") {
		t.Errorf("second run: %v\n%s", err, b)
	}
	t.Logf("%s", b)
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Errorf("file changed: %q, was %q", after, before)
	}
	if left, err := d.List(t.Context(), map[string]string{probe.RunLabel: heldRun}); err != nil || len(left) != 0 {
		t.Errorf("containers of run %s: %v %v", heldRun, left, err)
	}
}

// TestValidateKillInFirstLaunch: kill -9 in the very first launch leaves
// the run's header on disk, no observation, and the launch's container
// (labelled with the header's run id). --resume finds that id in the file,
// removes the container (and says so), goes on under the same id from
// launch 1, and leaves no container.
func TestValidateKillInFirstLaunch(t *testing.T) {
	d := cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	bin := buildValidate(t)
	out := filepath.Join(t.TempDir(), "first.jsonl")
	cmd := validateCmd(t, bin, nil, append(simArgs(image, out), "--env", "SIM_STARTUP_DELAY=4s")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first container", 30*time.Second, func() bool { return len(simContainers(t, d, image)) > 0 })
	cmd.Process.Kill()
	cmd.Wait()
	orphans := simContainers(t, d, image)
	b, _ := os.ReadFile(out)
	c, err := results.ReadAll(bytes.NewReader(b))
	if err != nil || len(c.Headers) != 1 || len(c.Observations) != 0 || len(orphans) != 1 || orphans[0].Labels[probe.RunLabel] != c.Headers[0].Run {
		t.Fatalf("after kill -9: %d headers, %d observations, %v; containers %+v", len(c.Headers), len(c.Observations), err, orphans)
	}
	run := c.Headers[0].Run
	stdout, err := validateCmd(t, bin, nil, append(simArgs(image, out), "--resume")...).CombinedOutput()
	if err != nil || !strings.Contains(string(stdout), "removed container "+orphans[0].ID[:12]+", left by the interrupted run") {
		t.Fatalf("--resume: %v\n%s", err, stdout)
	}
	b, _ = os.ReadFile(out)
	c, err = results.ReadAll(bytes.NewReader(b))
	if err != nil || len(c.Headers) != 2 || c.Headers[1].Run != run || !c.Headers[1].Settings.Resume || len(c.Observations) < 2 ||
		// Launch 1 was killed unrecorded; the resumed run numbers from 2.
		c.Observations[0].Run != run || c.Observations[0].Seq != 2 || !slices.Equal(c.RunIDs, []string{run}) {
		t.Errorf("after --resume: %+v, %v", c, err)
	}
	if left := simContainers(t, d, image); len(left) != 0 {
		t.Errorf("%d containers left after --resume", len(left))
	}
}

// TestMain runs the holder process of TestValidateSecondRunOnSameOut when
// VRAMCALC_HOLD_RESULTS names a file, else the tests.
func TestMain(m *testing.M) {
	if path := os.Getenv("VRAMCALC_HOLD_RESULTS"); path != "" {
		holdResults(path)
	}
	os.Exit(m.Run())
}

// holdResults opens path, writes a run header, says so ("held <run id>")
// and holds the file's lock until the process is killed.
func holdResults(path string) {
	s, _, err := results.OpenStore(path)
	if err == nil {
		err = s.WriteHeader(results.Header{Run: heldRun, Model: "meta-llama/Llama-3.1-8B-Instruct"})
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held " + heldRun)
	time.Sleep(10 * time.Minute)
	os.Exit(1)
}

const heldRun = "1767225600-fedcba9876543210"
