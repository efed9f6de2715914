package repocheck

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// A source a constant comes from is cited as a pinned upstream URL with a
// line anchor (https://github.com/<owner>/<repo>/blob/<tag>/<path>#L<a>) or
// as a document inside this repository (docs/ENGINES.md §N,
// testdata/startup_reports_dev.csv row N). looseCitation finds the older
// forms that name neither: a tag:path:line citation, an index commit
// (vllm@<hex>, sglang@…), the engine spec and its reviews without docs/, the
// steering repo's shared/data, and a "dev row" without the CSV path.
type looseCitation struct {
	Line int
	Text string
	Why  string
}

var (
	// v3.3.7:launcher:2114-2154, v2.0.4:…/flash_mistral.py:159-162: a tag
	// with a colon and no space after it ("v2.4.0: P = …" is prose).
	tagColonCite = regexp.MustCompile(`\bv\d+(?:\.\d+){2,3}:[^\s;,)]+`)
	// vllm@bbf906a, sglang@01cc04e, sglang@…
	indexCommitCite = regexp.MustCompile(`\b(?:vllm|sglang)@\S*`)
	// ENGINES.md, ENGINES-REVIEW …, REVIEW-VLLM §7, with or without docs/;
	// only docs/ENGINES[-REVIEW[-VLLM]].md is a path in this repository.
	specDocCite = regexp.MustCompile(`(?:docs/)?(?:ENGINES(?:-REVIEW(?:-VLLM)?)?(?:\.md)?|REVIEW-VLLM)\b|\bREVIEW\s+N\d+\b`)
	specDocPath = regexp.MustCompile(`^docs/ENGINES(?:-REVIEW(?:-VLLM)?)?\.md$`)
	devRowCite  = regexp.MustCompile(`(?i)\bdev rows?\b`)
)

// looseCitations returns every loose citation in text, in order.
func looseCitations(text string) []looseCitation {
	var out []looseCitation
	for i, line := range strings.Split(text, "\n") {
		add := func(s, why string) { out = append(out, looseCitation{Line: i + 1, Text: s, Why: why}) }
		for _, m := range tagColonCite.FindAllString(line, -1) {
			add(m, "a tag:path:line citation: write https://github.com/<owner>/<repo>/blob/<tag>/<path>#L<a>-L<b>")
		}
		for _, m := range indexCommitCite.FindAllString(line, -1) {
			add(m, "a commit of the code index: cite a release tag's URL with a line anchor")
		}
		for _, m := range specDocCite.FindAllString(line, -1) {
			if !specDocPath.MatchString(m) {
				add(m, "the engine spec and its reviews are docs/ENGINES.md, docs/ENGINES-REVIEW.md and docs/ENGINES-REVIEW-VLLM.md")
			}
		}
		if strings.Contains(line, "shared/data") {
			add("shared/data", "a file outside the repository: the startup reports are testdata/startup_reports_*.csv, their columns docs/STARTUP-REPORTS.md")
		}
		if m := devRowCite.FindString(line); m != "" && !strings.Contains(line, "startup_reports_dev.csv") {
			add(m, `name the file: "testdata/startup_reports_dev.csv row N"`)
		}
	}
	return out
}

// knownLoose are loose citations left in files this check does not own
// yet; each must still be there (so that the list shrinks when they are
// fixed).
var knownLoose = []struct{ file, text, why string }{}

// TestNoLooseCitations reads every tracked non-test Go file and fails,
// naming file:line, on a loose citation (see looseCitations).
func TestNoLooseCitations(t *testing.T) {
	root := moduleRoot(t)
	files := trackedFiles(t, root)
	used := make([]bool, len(knownLoose))
	checked := 0
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
	hits:
		for _, c := range looseCitations(string(data)) {
			for i, k := range knownLoose {
				if k.file == f && k.text == c.Text {
					used[i] = true
					continue hits
				}
			}
			t.Errorf("%s:%d: %q is %s", f, c.Line, c.Text, c.Why)
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d Go files under %s; want the whole repository", checked, root)
	}
	for i, k := range knownLoose {
		if !used[i] {
			t.Errorf("known loose citation %q in %s (%s) is no longer there: remove it from the list", k.text, k.file, k.why)
		}
	}
}

func TestLooseCitations(t *testing.T) {
	for _, tt := range []struct {
		text string
		want []string
	}{
		// Loose forms.
		{"(v3.3.7:launcher:2114-2154)", []string{"v3.3.7:launcher:2114-2154"}},
		{"v2.0.4:…/flash_mistral.py:159-162; v1.4.0:fcl.py:711", []string{"v2.0.4:…/flash_mistral.py:159-162", "v1.4.0:fcl.py:711"}},
		{"(v3.3.7:server/text_generation_server/models/globals.py PREFILL_CHUNKING)", []string{"v3.3.7:server/text_generation_server/models/globals.py"}},
		{"(vllm-project/vllm@bc8282e vllm/v1/kv_cache_interface.py)", []string{"vllm@bc8282e"}},
		{"(sglang@… server_args.py)", []string{"sglang@…"}},
		{"ENGINES.md §8; REVIEW-VLLM §7; ENGINES-REVIEW N2; REVIEW N2", []string{"ENGINES.md", "REVIEW-VLLM", "ENGINES-REVIEW", "REVIEW N2"}},
		{"shared/ENGINES-REVIEW-VLLM.md", []string{"ENGINES-REVIEW-VLLM.md"}},
		{"(shared/data rows 9 and 3)", []string{"shared/data"}},
		{"measured on H100 (dev rows 20–22)", []string{"dev rows"}},
		// Not loose: pinned URLs, documents by their repository path, prose.
		{"(https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2114-L2154)", nil},
		{"docs/ENGINES.md §8, docs/ENGINES-REVIEW.md N2 and docs/ENGINES-REVIEW-VLLM.md §7", nil},
		{"testdata/startup_reports_dev.csv rows 20–22 (the dev rows of llm-d)", nil},
		{"// v2.0.0 – v2.4.0: I = mpe'−1, T = mpe'", nil},
		{"// v3.3.0+: 0.90 (39cfe232 #3189)", nil},
		{"user@example.com, Engines, engine's ENGINE", nil},
	} {
		var got []string
		for _, c := range looseCitations(tt.text) {
			got = append(got, c.Text)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("looseCitations(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
