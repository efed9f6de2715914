package probe

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret in everything probe keeps or returns.
const Redacted = "[redacted]"

// tokenPattern matches a Hugging Face access token wherever it appears,
// whichever variable held it: "hf_" and 34 letters today (the pattern of
// gitleaks' rule, https://github.com/gitleaks/gitleaks/blob/7c56229a9a0ba367cdffdd45e0034274f68dd470/cmd/generate/config/rules/huggingface.go#L11-L20,
// after https://huggingface.co/docs/hub/security-tokens). Any 20 or more
// letters and digits are taken, so that a longer or re-alphabeted token
// is hidden too; nothing in TGI's log has that shape (hf_transfer,
// hf_hub_download stop at their underscore).
var tokenPattern = regexp.MustCompile(`hf_[A-Za-z0-9]{20,}`)

// Redact replaces every non-empty secret value and every Hugging Face
// token in s with "[redacted]".
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	if strings.Contains(s, "hf_") {
		s = tokenPattern.ReplaceAllString(s, Redacted)
	}
	return s
}
