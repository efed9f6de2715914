package repocheck

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// allowed are absolute paths in tracked files that are not paths of a
// machine of ours: paths inside the containers the product runs or
// reproduces, and the CI script's scratch file. Each is written without its
// leading slash so that this file does not hold it.
var allowed = []struct{ file, prefix, why string }{
	{"cmd/tgisim/args.go", "tmp/text-generation-server", "TGI launcher's default --shard-uds-path, inside its container"},
	{"cmd/tgisim/logs.go", "root/.local/share/uv/python/", "a path inside the TGI image, in the traceback the simulator reproduces"},
	{".ci/run", "tmp/dockerd.log", "the log of the Docker daemon CI starts on its own fresh machine"},
}

// TestNoMachinePaths reads every file git tracks and fails, naming
// file:line, on an absolute path of a machine (see MachinePaths). Name a
// file by its path in the repository (or in the steering repo, e.g.
// shared/models); in tests use t.TempDir.
func TestNoMachinePaths(t *testing.T) {
	root := moduleRoot(t)
	files := trackedFiles(t, root)
	if len(files) < 100 {
		t.Fatalf("git lists %d tracked files under %s; want the whole repository", len(files), root)
	}
	used := make([]bool, len(allowed))
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			continue // binary, as git tells them apart
		}
		for _, p := range MachinePaths(string(data)) {
			if i := allowedAt(f, p.Path); i >= 0 {
				used[i] = true
				continue
			}
			t.Errorf("%s:%d: %s is an absolute path of a machine: name the file by its repository path (in tests, use t.TempDir)", f, p.Line, p.Path)
		}
	}
	for i, a := range allowed {
		if !used[i] {
			t.Errorf("allowed /%s in %s (%s) is no longer there: remove it from the list", a.prefix, a.file, a.why)
		}
	}
}

func allowedAt(file, path string) int {
	for i, a := range allowed {
		if a.file == file && strings.HasPrefix(path, "/"+a.prefix) {
			return i
		}
	}
	return -1
}

// moduleRoot is the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// trackedFiles runs git ls-files in root; it skips the test when git is not
// installed or root is not a git checkout (a module copy from the proxy).
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: cannot list the repository's tracked files")
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Skipf("%s is not a git checkout (no history to list): cannot list the tracked files", root)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
}

// TestMachinePaths pins what is and is not an absolute path of a machine.
// The paths are built from their parts so that this file holds none.
func TestMachinePaths(t *testing.T) {
	abs := func(parts ...string) string { return "/" + strings.Join(parts, "/") }
	win := func(drive, sep string, parts ...string) string { return drive + ":" + sep + strings.Join(parts, sep) }
	tests := []struct {
		text string
		want []MachinePath
	}{
		{"copies of " + abs("work", "shared", "models", "x") + "/ (steering repo)", []MachinePath{{1, abs("work", "shared", "models", "x") + "/"}}},
		{`{"HOME": "` + abs("home", "alice", ".cache") + `"}`, []MachinePath{{1, abs("home", "alice", ".cache")}}},
		{"first line\nlog=" + abs("tmp", "x.log") + " and " + abs("root", "go"), []MachinePath{{2, abs("tmp", "x.log")}, {2, abs("root", "go")}}},
		{"PATH=" + abs("Users", "bob", "bin") + ":" + abs("root", "bin"), []MachinePath{{1, abs("Users", "bob", "bin")}, {1, abs("root", "bin")}}},
		{`open "` + win("C", `\`, "Users", "carol", "model") + `"`, []MachinePath{{1, win("C", `\`, "Users", "carol", "model")}}},
		{`"` + win("D", `\\`, "Users", "dave") + `"`, []MachinePath{{1, win("D", `\\`, "Users", "dave")}}},
		// Not a machine's: container paths of the product, relative paths,
		// URL paths, home shorthands, the directory names alone.
		{"-v " + abs("data") + " --shm " + abs("dev", "shm") + " " + abs("proc", "meminfo") + " GET " + abs("sim", "gpus"), nil},
		{"x" + abs("tmp", "y") + " ../" + abs("work", "z")[1:] + " https://host" + abs("work", "a") + " ~" + abs("work", "b"), nil},
		{"the " + abs("work") + ", " + abs("root") + " and " + abs("tmp") + " trees; " + abs("home") + "/<name>/; C:\\Users profiles", nil},
	}
	for _, tt := range tests {
		if got := MachinePaths(tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("MachinePaths(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
