package cmdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SimImageFor builds the simulator image of cmd/<dir> (tgisim, vllmsim,
// sglangsim) with its build-image.sh, FROM scratch and without a
// registry, under a tag of this test alone (another copy of the suite on
// the same engine neither shares nor removes it); the tag is removed when
// the test ends.
func SimImageFor(t testing.TB, dir string) string {
	t.Helper()
	tag := fmt.Sprintf("vramcalc/%s:test-%d-%d", dir, os.Getpid(), time.Now().UnixNano())
	script := filepath.Join(ModuleRoot(t), "cmd", dir, "build-image.sh")
	if out, err := exec.Command("sh", script, tag).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "image", "rm", tag).CombinedOutput(); err != nil {
			t.Logf("remove %s: %v: %s", tag, err, out)
		}
	})
	return tag
}
