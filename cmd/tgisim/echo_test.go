package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEchoEnv: SIM_ECHO_ENV=HF_TOKEN,OTHER logs the two values at start
// and at exit; a model that is not found exits 1 after the download fails,
// so the line appears exactly twice, the last time as the last line.
func TestEchoEnv(t *testing.T) {
	env := map[string]string{"SIM_ECHO_ENV": "HF_TOKEN,OTHER", "HF_TOKEN": "hf_simulated", "OTHER": "x y", "HF_HOME": t.TempDir()}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--model-id", "nobody/absent-model"}, func(k string) string { return env[k] }, &out, &errb)
	const want = "Environment: HF_TOKEN=hf_simulated OTHER=x y"
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if code != 1 || strings.Count(out.String(), want) != 2 || !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("exit %d, stdout:\n%s", code, out.String())
	}
}
