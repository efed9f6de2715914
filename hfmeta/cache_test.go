package hfmeta_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/hfmeta"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

// hfCache lays out repo in a Hugging Face hub cache under dir the way
// huggingface_hub does: blobs/<hash> holds the content,
// snapshots/<commit>/<file> is a relative symlink to it, and refs/main
// holds the commit hash. files maps a name to its fixture under
// testdata/hub/<fixture>/resolve/main.
func hfCache(t *testing.T, dir, repo, fixture string, files ...string) (snapshot string) {
	t.Helper()
	repoDir := filepath.Join(dir, "models--"+strings.ReplaceAll(repo, "/", "--"))
	snapshot = filepath.Join(repoDir, "snapshots", commit)
	for _, d := range []string{filepath.Join(repoDir, "blobs"), filepath.Join(repoDir, "refs"), snapshot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata/hub", fixture, "resolve/main", f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		blob := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(repoDir, "blobs", blob), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snapshot, f)); err != nil {
			t.Fatal(err)
		}
	}
	return snapshot
}

var llamaFiles = []string{"config.json", "model.safetensors.index.json",
	"model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
	"model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors"}

func TestCacheFull(t *testing.T) {
	dir := t.TempDir()
	snap := hfCache(t, dir, "Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "config.json", "model.safetensors")
	for _, rev := range []string{"", "main", commit} {
		m, err := (&hfmeta.Client{CacheDir: dir, Revision: rev}).FromCache("Qwen/Qwen3-0.6B")
		if err != nil {
			t.Fatalf("revision %q: %v", rev, err)
		}
		if m.Source != "cache" || m.Location != snap || m.Model.ID != "Qwen/Qwen3-0.6B" || m.Model.Layers != 28 {
			t.Errorf("revision %q: Source %q, Location %q, ID %q, %d layers", rev, m.Source, m.Location, m.Model.ID, m.Model.Layers)
		}
		n, elements, _ := sumTensors(m.Model.Tensors)
		want := fileSize(t, testdataHub(), "Qwen/Qwen3-0.6B/resolve/main/config.json") + 35_352
		if n != 311 || elements != 751_632_384 || m.BytesRead != want {
			t.Errorf("revision %q: %d tensors, %d elements, %d bytes read; want 311, 751632384, %d", rev, n, elements, m.BytesRead, want)
		}
	}
}

func TestCacheWithoutWeights(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		remove  string // blob of this file deleted: a dangling symlink
		warning string
	}{
		{"config only", []string{"config.json"}, "", "no safetensors files in "},
		{"two of four shards", llamaFiles[:4], "", "2 of the 4 shards in "},
		{"dangling symlink", llamaFiles, "model-00003-of-00004.safetensors", "1 of the 4 shards in "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			snap := hfCache(t, dir, "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", tt.files...)
			if tt.remove != "" {
				blob, err := filepath.EvalSymlinks(filepath.Join(snap, tt.remove))
				if err != nil {
					t.Fatal(err)
				}
				os.Remove(blob)
			}
			m, err := (&hfmeta.Client{CacheDir: dir}).FromCache("meta-llama/Llama-3.1-8B-Instruct")
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Model.Tensors) != 0 || m.Model.Layers != 32 {
				t.Errorf("%d tensors, %d layers; want none and 32", len(m.Model.Tensors), m.Model.Layers)
			}
			if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], tt.warning) || !strings.Contains(m.Warnings[0], "weights derived from config.json") {
				t.Errorf("warnings %q, want one containing %q", m.Warnings, tt.warning)
			}
		})
	}
}

func TestCacheMiss(t *testing.T) {
	dir := t.TempDir()
	hfCache(t, dir, "Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "config.json")
	tests := []struct {
		name     string
		c        hfmeta.Client
		repo     string
		contains string
	}{
		{"other repo", hfmeta.Client{CacheDir: dir}, "Qwen/Qwen3-8B", filepath.Join(dir, "models--Qwen--Qwen3-8B", "refs", "main")},
		{"other branch", hfmeta.Client{CacheDir: dir, Revision: "v2"}, "Qwen/Qwen3-0.6B", filepath.Join("refs", "v2")},
		{"other commit", hfmeta.Client{CacheDir: dir, Revision: strings.Repeat("f", 40)}, "Qwen/Qwen3-0.6B", "no config.json in "},
		{"escaping revision", hfmeta.Client{CacheDir: dir, Revision: "../../x"}, "Qwen/Qwen3-0.6B", "not a valid ref name"},
		{"no cache dir", hfmeta.Client{}, "Qwen/Qwen3-0.6B", "no cache dir set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.FromCache(tt.repo)
			if !errors.Is(err, hfmeta.ErrNotFound) || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("err = %v, want ErrNotFound mentioning %q", err, tt.contains)
			}
		})
	}
}

func TestCacheDirFromEnv(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": home}, filepath.Join(home, ".cache", "huggingface", "hub")},
		{map[string]string{"HOME": home, "XDG_CACHE_HOME": "/xdg"}, "/xdg/huggingface/hub"},
		{map[string]string{"HOME": home, "XDG_CACHE_HOME": "/xdg", "HF_HOME": "~/hf"}, filepath.Join(home, "hf", "hub")},
		{map[string]string{"HOME": home, "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy"}, "/legacy"},
		{map[string]string{"HOME": home, "HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_CACHE": "/hubcache"}, "/hubcache"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		if got := hfmeta.CacheDirFromEnv(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestOfflineFromEnv(t *testing.T) {
	for _, tt := range []struct {
		hub, transformers string
		want              bool
	}{
		{"1", "", true}, {"true", "", true}, {"YES", "", true}, {"on", "", true},
		{"0", "1", false}, {"", "1", true}, {"", "", false}, {"offline", "", false},
	} {
		env := map[string]string{"HF_HUB_OFFLINE": tt.hub, "TRANSFORMERS_OFFLINE": tt.transformers}
		if got := hfmeta.OfflineFromEnv(func(k string) string { return env[k] }); got != tt.want {
			t.Errorf("HF_HUB_OFFLINE=%q TRANSFORMERS_OFFLINE=%q: got %v, want %v", tt.hub, tt.transformers, got, tt.want)
		}
	}
}
