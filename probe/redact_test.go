package probe

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A token shaped as the Hub issues them: "hf_" and 34 letters.
const otherToken = "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"

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"HF_TOKEN=s3cret other=" + otherToken, "HF_TOKEN=[redacted] other=[redacted]"},
		{"Bearer " + otherToken + ".", "Bearer [redacted]."},
		// 20 letters and digits after hf_ are a token; 19 are not.
		{"hf_abcdefghij0123456789 hf_abcdefghij012345678", "[redacted] hf_abcdefghij012345678"},
		// TGI's own words stay.
		{"HF_HUB_ENABLE_HF_TRANSFER=1 hf_transfer hf_hub_download", "HF_HUB_ENABLE_HF_TRANSFER=1 hf_transfer hf_hub_download"},
		{"", ""},
	} {
		if got := Redact(c.in, []string{"s3cret", ""}); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestLaunchRedactsTokens: an engine that prints a token it was not given
// as a secret (another variable holding an hf_ token) has it redacted in
// the observation's log tail too.
func TestLaunchRedactsTokens(t *testing.T) {
	rt := &fakeRuntime{edge: 20000, budget: 22460, logPrefix: "env: HF_TOKEN=hf_secretValue HUGGING_FACE_HUB_TOKEN=" + otherToken + "\n"}
	cfg := &Config{Runtime: rt, Engine: TGI{}, Image: "img", Model: "m", RunID: "t1",
		Secrets: map[string]string{"HF_TOKEN": "hf_secretValue"}, HealthTimeout: 5 * time.Second}
	seq := 0
	o, err := cfg.Launcher(&seq)(context.Background(), Point{MaxInputTokens: 19999, MaxTotalTokens: 20000})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(o)
	if strings.Contains(string(b), "hf_secretValue") || strings.Contains(string(b), otherToken) ||
		len(o.LogTail) == 0 || o.LogTail[0] != "env: HF_TOKEN=[redacted] HUGGING_FACE_HUB_TOKEN=[redacted]" {
		t.Errorf("log tail %q", o.LogTail)
	}
}
