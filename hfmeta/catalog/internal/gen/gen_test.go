package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFilesUpToDate fails when a config.json, an override or the
// synthesizer changed without running go generate in hfmeta/catalog.
func TestGeneratedFilesUpToDate(t *testing.T) {
	out, err := Generate("../../models")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 2*40+1 {
		t.Fatalf("generated %d files, want tensors.json and source.txt for at least 40 models plus index.go", len(out))
	}
	for name, want := range out {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./hfmeta/catalog)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./hfmeta/catalog", name)
		}
	}
}

// TestGenerateRefusesMachinePaths: a source.txt whose hand-written part
// names a file by an absolute path of a machine is refused, naming the file
// and line (line 3 of a.txt, line 1 of b.txt), and nothing is generated.
func TestGenerateRefusesMachinePaths(t *testing.T) {
	home := "/" + "home/alice/models/x" // built from parts: this file holds no such path
	err := checkNoMachinePaths(map[string][]byte{
		"a.txt": []byte("model: org/x\n\ncopied from " + home + "/config.json\n"),
		"b.txt": []byte("/" + "tmp/x\n"),
		"c.txt": []byte("copied from shared/models/org__x/ in the steering repo\n"),
	})
	want := "absolute paths of a machine (name files by their repository path instead):\n  a.txt:3: " + home + "/config.json\n  b.txt:1: /" + "tmp/x"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	dir := t.TempDir()
	model := filepath.Join(dir, "org__x")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "torch_dtype": "bfloat16"}`
	for name, text := range map[string]string{"config.json": cfg, "source.txt": "model: org/x\ncopied from " + home + "/\n"} {
		if err := os.WriteFile(filepath.Join(model, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, out, err := generateOne(model, "org__x")
	if err == nil || out != nil || !strings.Contains(err.Error(), filepath.Join(model, "source.txt")+":2: "+home+"/") {
		t.Errorf("generateOne: %d files, err %v; want none and the source.txt line named", len(out), err)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 8030261248: "8,030,261,248", -1234: "-1,234"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
