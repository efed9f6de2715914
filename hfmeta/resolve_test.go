package hfmeta_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

func TestResolveLocalDir(t *testing.T) {
	dir := "testdata/hub/meta-llama/Llama-3.1-8B-Instruct/resolve/main"
	m, err := (&hfmeta.Client{Offline: true}).Resolve(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "local" || m.Location != dir || m.Model.ID != dir || m.Model.Layers != 32 {
		t.Errorf("Source %q, Location %q, ID %q, %d layers", m.Source, m.Location, m.Model.ID, m.Model.Layers)
	}
	n, elements, size := sumTensors(m.Model.Tensors)
	if n != 291 || elements != 8_030_261_248 || size != 16_060_522_496 || len(m.Model.Tensors) != 12 {
		t.Errorf("%d tensors in %d entries, %d elements, %d bytes; want 291 in 12, 8030261248, 16060522496", n, len(m.Model.Tensors), elements, size)
	}
	// Header-only files: every byte of each is header, read once.
	var want int64
	for _, f := range llamaFiles {
		want += fileSize(t, testdataHub(), "meta-llama/Llama-3.1-8B-Instruct/resolve/main/"+f)
	}
	if m.BytesRead != want || len(m.Warnings) != 0 {
		t.Errorf("BytesRead %d, warnings %q; want %d and none", m.BytesRead, m.Warnings, want)
	}
}

func TestResolveLocalBadHeader(t *testing.T) {
	dir := "testdata/hub/vramcalc-test/truncated-header/resolve/main"
	_, err := (&hfmeta.Client{}).Resolve(context.Background(), dir)
	if !errors.Is(err, hfmeta.ErrTruncated) || !strings.Contains(err.Error(), filepath.Join(dir, "model.safetensors")) {
		t.Errorf("err = %v, want ErrTruncated naming the file", err)
	}
}

func TestResolvePathThatIsNotADirectory(t *testing.T) {
	for _, ref := range []string{"./no-such-model", "/no/such/model", "~/models/x", "a/b/c"} {
		_, err := (&hfmeta.Client{}).Resolve(context.Background(), ref)
		if !errors.Is(err, hfmeta.ErrNotFound) || !strings.Contains(err.Error(), "no such directory") {
			t.Errorf("%s: err = %v, want ErrNotFound: no such directory", ref, err)
		}
	}
}

// remoteFunc is a Client.Remote that records the repos it is asked for
// and answers with answer.
type remoteFunc struct {
	asked  []string
	answer func(repo string) (hfmeta.Meta, error)
}

func (r *remoteFunc) fetch(_ context.Context, repo string) (hfmeta.Meta, error) {
	r.asked = append(r.asked, repo)
	return r.answer(repo)
}

// The cache comes before the catalog, the catalog before the Hub.
func TestResolveOrder(t *testing.T) {
	const id = "meta-llama/Llama-3.1-8B-Instruct"
	if _, ok := catalog.Lookup(id); !ok {
		t.Fatalf("%s is not in the catalog", id)
	}
	remote := &remoteFunc{answer: func(string) (hfmeta.Meta, error) { return hfmeta.Meta{Source: hfmeta.SourceHub}, nil }}
	cache := t.TempDir()
	hfCache(t, cache, id, id, llamaFiles...)

	m, err := (&hfmeta.Client{CacheDir: cache, Remote: remote.fetch}).Resolve(context.Background(), id)
	if err != nil || m.Source != "cache" {
		t.Fatalf("with the model cached: Source %q, err %v; want cache", m.Source, err)
	}
	m, err = (&hfmeta.Client{CacheDir: t.TempDir(), Remote: remote.fetch}).Resolve(context.Background(), id)
	if err != nil || m.Source != "catalog" {
		t.Fatalf("with an empty cache: Source %q, err %v; want catalog", m.Source, err)
	}
	if len(remote.asked) != 0 {
		t.Errorf("the Hub was asked for %q", remote.asked)
	}
}

// TestResolveRemote pins the Hub step: Remote gets the repo id (a model
// page URL under Endpoint trimmed), its Meta is returned as is, a not
// found gets the places looked at, other errors pass unchanged, and
// Offline, a nil Remote and refs that are no repo id never reach it.
func TestResolveRemote(t *testing.T) {
	const id = "vramcalc-test/remote-model"
	cache := t.TempDir()
	looked := fmt.Sprintf(`no directory %q, not in the HF cache %s, not in the embedded catalog (%d models)`, id, cache, len(catalog.IDs()))
	gated := fmt.Errorf("hfmeta: fetch config %s: %w", id, hfmeta.ErrGated)
	notFound := fmt.Errorf("hfmeta: fetch config %s: 404: %w", id, hfmeta.ErrNotFound)
	hubMeta := hfmeta.Meta{Source: hfmeta.SourceHub, Location: "https://hub.example/" + id + "/resolve/v2", BytesRead: 1234}
	tests := []struct {
		name   string
		c      hfmeta.Client
		ref    string
		answer error
		asked  []string
		err    string // "" for success
		is     []error
		isNot  []error
	}{
		{"found", hfmeta.Client{}, id, nil, []string{id}, "", nil, nil},
		{"model page under the endpoint", hfmeta.Client{Endpoint: "https://hub.example/"}, "https://hub.example/" + id + "/", nil, []string{id}, "", nil, nil},
		{"model page on huggingface.co", hfmeta.Client{Endpoint: "https://hub.example"}, "https://huggingface.co/" + id, nil, []string{id}, "", nil, nil},
		{"not found", hfmeta.Client{}, id, notFound, []string{id},
			notFound.Error() + " (also: " + looked + ")", []error{hfmeta.ErrNotFound}, []error{hfmeta.ErrOffline}},
		{"gated", hfmeta.Client{}, id, gated, []string{id}, gated.Error(), []error{hfmeta.ErrGated}, []error{hfmeta.ErrNotFound}},
		{"offline", hfmeta.Client{Offline: true}, id, nil, nil,
			fmt.Sprintf("hfmeta: resolve %q: model not found (%s) and offline mode, the hub was not asked", id, looked),
			[]error{hfmeta.ErrNotFound, hfmeta.ErrOffline}, nil},
		{"no remote", hfmeta.Client{}, id, nil, nil,
			fmt.Sprintf("hfmeta: resolve %q: model not found (%s) and no hub client was given", id, looked),
			[]error{hfmeta.ErrNotFound}, []error{hfmeta.ErrOffline}},
		{"not a repo id", hfmeta.Client{}, "org/na--me", nil, nil,
			`hfmeta: resolve "org/na--me": model not found: neither a directory nor a hub repo id ("--" and ".." are not allowed)`,
			[]error{hfmeta.ErrNotFound}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := &remoteFunc{answer: func(string) (hfmeta.Meta, error) {
				if tt.answer != nil {
					return hfmeta.Meta{}, tt.answer
				}
				return hubMeta, nil
			}}
			c := tt.c
			c.CacheDir = cache
			if tt.name != "no remote" {
				c.Remote = remote.fetch
			}
			m, err := c.Resolve(context.Background(), tt.ref)
			if !reflect.DeepEqual(remote.asked, tt.asked) {
				t.Errorf("Remote asked for %q, want %q", remote.asked, tt.asked)
			}
			if tt.err == "" {
				if err != nil || !reflect.DeepEqual(m, hubMeta) {
					t.Fatalf("Resolve = %+v, %v; want %+v", m, err, hubMeta)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Fatalf("err = %v\nwant  %s", err, tt.err)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("err is not %v", target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("err is %v", target)
				}
			}
		})
	}
}

func TestResolveCatalogOffline(t *testing.T) {
	for _, ref := range []string{"Qwen/Qwen3-0.6B", "qwen/qwen3-0.6b", "https://huggingface.co/Qwen/Qwen3-0.6B"} {
		m, err := (&hfmeta.Client{Offline: true, CacheDir: t.TempDir()}).Resolve(context.Background(), ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if m.Source != "catalog" || m.Location != "catalog:Qwen/Qwen3-0.6B" || m.Model.ID != "Qwen/Qwen3-0.6B" || m.Model.Layers != 28 {
			t.Errorf("%s: Source %q, Location %q, ID %q, %d layers", ref, m.Source, m.Location, m.Model.ID, m.Model.Layers)
		}
		// The catalog's tensor summary agrees with the header fixture:
		// 311 tensors, 751,632,384 elements (the HF API count).
		if n, elements, _ := sumTensors(m.Model.Tensors); n != 311 || elements != 751_632_384 {
			t.Errorf("%s: %d tensors, %d elements; want 311, 751632384", ref, n, elements)
		}
	}
}

func TestResolveOfflineUnknown(t *testing.T) {
	cache := t.TempDir()
	_, err := (&hfmeta.Client{Offline: true, CacheDir: cache}).Resolve(context.Background(), "vramcalc-test/unknown-model")
	if !errors.Is(err, hfmeta.ErrNotFound) || !errors.Is(err, hfmeta.ErrOffline) {
		t.Fatalf("err = %v, want ErrNotFound and ErrOffline", err)
	}
	want := fmt.Sprintf(`hfmeta: resolve "vramcalc-test/unknown-model": model not found (no directory "vramcalc-test/unknown-model", `+
		`not in the HF cache %s, not in the embedded catalog (%d models)) and offline mode, the hub was not asked`, cache, len(catalog.IDs()))
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

// TestCheckRepoID: the shape huggingface_hub's validate_repo_id accepts.
func TestCheckRepoID(t *testing.T) {
	ok := []string{"gpt2", "meta-llama/Llama-3.1-8B-Instruct", "a/b", "Qwen/Qwen2.5-0.5B", "org_1/x.y-z", "0/9", strings.Repeat("a", 96)}
	for _, id := range ok {
		if err := hfmeta.CheckRepoID(id); err != nil {
			t.Errorf("CheckRepoID(%q) = %v, want nil", id, err)
		}
	}
	bad := map[string]string{
		"":                      `want "org/name"`,
		"/x":                    `want "org/name"`,
		"x/":                    `want "org/name"`,
		"a/b/c":                 `want "org/name"`,
		"-a/b":                  `want "org/name"`,
		"a/.b":                  `want "org/name"`,
		"a b":                   `want "org/name"`,
		"a/b?":                  `want "org/name"`,
		"é/x":                   `want "org/name"`,
		"a--b/c":                `"--" and ".." are not allowed`,
		"a/b..c":                `"--" and ".." are not allowed`,
		strings.Repeat("a", 97): "longer than 96 characters",
	}
	for id, want := range bad {
		if err := hfmeta.CheckRepoID(id); err == nil || err.Error() != want {
			t.Errorf("CheckRepoID(%q) = %v, want %s", id, err, want)
		}
	}
}
