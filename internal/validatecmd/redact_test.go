package validatecmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/cmdtest"
)

// TestValidateRedactsTokens runs validate on the simulator image with
// SIM_ECHO_ENV, so that the engine logs its HF_TOKEN (a secret of an odd
// shape, hidden because it is the secret) and a second Hub token passed by
// --env (hidden because it has a token's shape): the results' log tails
// hold "[redacted]" and neither value, nor does anything validate printed.
func TestValidateRedactsTokens(t *testing.T) {
	cmdtest.Docker(t)
	image := cmdtest.SimImage(t)
	const secret, other = "tok-Secret.Value-1", "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"
	out := filepath.Join(t.TempDir(), "redact.jsonl")
	args := append(simArgs(image, out), "--max-launches", "2",
		"--env", "SIM_ECHO_ENV=HF_TOKEN HUGGING_FACE_HUB_TOKEN", "--env", "HUGGING_FACE_HUB_TOKEN="+other)
	stdout, stderr, code := cmdtest.RunEnv(t, Root, map[string]string{"HF_HUB_OFFLINE": "1", "HF_HOME": t.TempDir(), "HF_TOKEN": secret}, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(raw), stdout, stderr} {
		if strings.Contains(s, secret) || strings.Contains(s, other) {
			t.Errorf("a token leaked into:\n%s", s)
		}
	}
	obs := readObs(t, out)
	if len(obs) != 2 {
		t.Fatalf("%d launches, want 2", len(obs))
	}
	const want = "Environment: HF_TOKEN=[redacted] HUGGING_FACE_HUB_TOKEN=[redacted]"
	for _, o := range obs {
		if !slices.ContainsFunc(o.LogTail, func(l string) bool { return strings.HasSuffix(l, want) }) {
			t.Errorf("launch %d (%s): no %q in the tail:\n%s", o.Seq, o.Outcome, want, strings.Join(o.LogTail, "\n"))
		}
	}
}
