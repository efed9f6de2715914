package hfmeta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
)

// Client finds a model's config and safetensors headers. The zero value
// works: it reads local directories and the embedded catalog, and with no
// Remote it never asks the Hub. Fields are read, never changed, so one
// Client may be used from several goroutines.
type Client struct {
	// Endpoint is the Hub base URL (HF_ENDPOINT); empty means
	// DefaultEndpoint. Resolve uses it only to turn a model page URL under
	// it into the repo id; Remote does the asking.
	Endpoint string
	// CacheDir is the Hugging Face hub cache (see CacheDirFromEnv); empty
	// skips the cache.
	CacheDir string
	// Offline skips the Hub (HF_HUB_OFFLINE): Remote is never called.
	Offline bool
	// Revision is the branch, tag or commit to read; empty means "main".
	Revision string
	// Remote is Resolve's last step: it reads repo (a checked repo id)
	// from the Hub, at the revision it was made for. Package hfmeta/hub's
	// Client.Fetch is one; a program that must not link net/http runs one
	// in another process. Its errors wrap ErrNotFound, ErrGated and the
	// other sentinels as the local sources do, and never hold a token. nil
	// means the Hub is not asked, as with Offline.
	Remote func(ctx context.Context, repo string) (Meta, error)
}

// Meta is what Resolve found.
type Meta struct {
	// Model comes from config.json. Model.ID is the ref as given;
	// Model.Tensors is set, compacted (CompactTensors), when safetensors
	// headers or a catalog tensor summary were read, and empty when there
	// were none. Model.TensorsFrom says which: estimate.WeightsFromSafetensors
	// (local directory, cache, Hub), estimate.WeightsFromCatalog or
	// estimate.WeightsFromCatalogUnchecked; empty with no tensors.
	Model estimate.Model
	// Source is "local", "cache", "catalog" or "hub".
	Source string
	// Location is where the model came from: the directory, "catalog:" and
	// the catalog id, or the Hub URL prefix {endpoint}/{repo}/resolve/{revision}.
	Location string
	// Warnings are notes for the user: config keys ParseConfig guessed at,
	// missing shards, weights that will come from the config.
	Warnings []string
	// BytesRead counts the bytes read from files or response bodies.
	BytesRead int64
}

// Sources, as Meta.Source spells them.
const (
	SourceLocal   = "local"
	SourceCache   = "cache"
	SourceCatalog = "catalog"
	SourceHub     = "hub"
)

// DefaultEndpoint is the Hub used when Client.Endpoint is empty.
const DefaultEndpoint = "https://huggingface.co"

const defaultRevision = "main"

// MaxConfigSize and MaxIndexSize bound config.json and
// model.safetensors.index.json, wherever they are read from. DeepSeek-V3's
// index (91k tensors) is about 9 MB.
const (
	MaxConfigSize = 16 << 20
	MaxIndexSize  = 64 << 20
)

// The file names transformers saves (huggingface_hub's SAFETENSORS_SINGLE_FILE
// and SAFETENSORS_INDEX_FILE, https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L51-L52).
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) revision() string {
	if c.Revision == "" {
		return defaultRevision
	}
	return c.Revision
}

// Resolve finds ref's config.json and safetensors headers, trying in order:
//
//  1. a local directory named ref (FromDir);
//  2. the Hugging Face cache in CacheDir (FromCache);
//  3. the embedded catalog (FromCatalog);
//  4. the Hub, through Remote, unless Offline or Remote is nil.
//
// A model page URL ("https://huggingface.co/org/name") stands for its repo
// id. A ref that looks like a path ("/x", "./x", "~/x", "a/b/c") and is not
// a directory fails at once. The library does not expand "~"; the caller
// does. When every source misses, the error wraps ErrNotFound (and
// ErrOffline when the Hub was skipped because of Offline) and names the
// places looked at.
func (c *Client) Resolve(ctx context.Context, ref string) (Meta, error) {
	if err := ctx.Err(); err != nil {
		return Meta{}, fmt.Errorf("hfmeta: resolve %q: %w", ref, err)
	}
	if fi, err := os.Stat(ref); err == nil && fi.IsDir() {
		return c.FromDir(ref)
	}
	ref = trimHubURL(ref, c.endpoint())
	if LooksLikePath(ref) {
		return Meta{}, fmt.Errorf("hfmeta: resolve %q: %w: no such directory", ref, ErrNotFound)
	}
	if err := CheckRepoID(ref); err != nil {
		return Meta{}, fmt.Errorf("hfmeta: resolve %q: %w: neither a directory nor a hub repo id (%v)", ref, ErrNotFound, err)
	}
	looked := []string{fmt.Sprintf("no directory %q", ref)}

	if c.CacheDir != "" {
		m, err := c.FromCache(ref)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Meta{}, err
		}
		looked = append(looked, fmt.Sprintf("not in the HF cache %s", c.CacheDir))
	} else {
		looked = append(looked, "no HF cache dir set")
	}

	if m, err := c.FromCatalog(ref); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Meta{}, err
	}
	looked = append(looked, fmt.Sprintf("not in the embedded catalog (%d models)", len(catalog.IDs())))

	if c.Offline {
		return Meta{}, fmt.Errorf("hfmeta: resolve %q: %w (%s) and %w",
			ref, ErrNotFound, strings.Join(looked, ", "), ErrOffline)
	}
	if c.Remote == nil {
		return Meta{}, fmt.Errorf("hfmeta: resolve %q: %w (%s) and no hub client was given",
			ref, ErrNotFound, strings.Join(looked, ", "))
	}
	m, err := c.Remote(ctx, ref)
	if errors.Is(err, ErrNotFound) {
		return Meta{}, fmt.Errorf("%w (also: %s)", err, strings.Join(looked, ", "))
	}
	return m, err
}

// FromCatalog returns the embedded catalog's entry for id, parsed with
// ParseConfig. Its tensors, when the entry has them, are used without the
// layers serving never loads (see Meta.SetTensors), labelled
// estimate.WeightsFromCatalog when the entry's published parameter count
// checks them, else estimate.WeightsFromCatalogUnchecked.
func (c *Client) FromCatalog(id string) (Meta, error) {
	e, ok := catalog.Lookup(id)
	if !ok {
		return Meta{}, fmt.Errorf("hfmeta: catalog: %q: %w", id, ErrNotFound)
	}
	m, warnings, err := ParseConfig(e.Config)
	if err != nil {
		return Meta{}, fmt.Errorf("%w (catalog entry %s)", err, e.ID)
	}
	m.ID = e.ID
	meta := Meta{Model: m, Source: SourceCatalog, Location: "catalog:" + e.ID, Warnings: warnings}
	if len(e.Tensors) > 0 {
		meta.SetTensors(e.Tensors, catalogWeightsFrom(e))
	}
	return meta, nil
}

// catalogWeightsFrom labels a catalog entry's tensors: checked when the
// entry has a published parameter count, which the catalog's tests compare
// with the summary's total, unchecked otherwise.
func catalogWeightsFrom(e catalog.Entry) string {
	if e.Params > 0 {
		return estimate.WeightsFromCatalog
	}
	return estimate.WeightsFromCatalogUnchecked
}

// repoIDShape reports whether id is a Hub model id's shape: "name" or
// "org/name", each part of letters, digits, '.', '_' and '-', starting with
// a letter or digit (after huggingface_hub's REPO_ID_REGEX and
// validate_repo_id,
// https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_validators.py#L28-L38 and
// https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/utils/_validators.py#L93-L140).
// It differs from upstream at the edges: upstream also accepts a leading
// '_' and non-ASCII word characters, rejects a part ending in '-' or '.',
// and applies its 96-character limit to the name, where CheckRepoID
// applies it to the whole id. A loop, not a regexp: compiling one took
// tens of microseconds of every start.
func repoIDShape(id string) bool {
	org, name, two := strings.Cut(id, "/")
	return repoIDPart(org) && (!two || repoIDPart(name))
}

func repoIDPart(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return s != ""
}

func CheckRepoID(id string) error {
	switch {
	case len(id) > 96:
		return errors.New("longer than 96 characters")
	case !repoIDShape(id):
		return errors.New(`want "org/name"`)
	case strings.Contains(id, "--") || strings.Contains(id, ".."):
		return errors.New(`"--" and ".." are not allowed`)
	}
	return nil
}

// trimHubURL turns a model page URL ("https://huggingface.co/org/name",
// or one under the client's endpoint) into the repo id.
func trimHubURL(ref, endpoint string) string {
	for _, prefix := range []string{endpoint + "/", DefaultEndpoint + "/"} {
		if id, ok := strings.CutPrefix(ref, prefix); ok {
			return strings.TrimSuffix(id, "/")
		}
	}
	return ref
}

// LooksLikePath reports whether ref is meant as a filesystem path rather
// than a repo id.
func LooksLikePath(ref string) bool {
	return ref == "." || ref == ".." || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "./") ||
		strings.HasPrefix(ref, "../") || strings.HasPrefix(ref, "~") || strings.Contains(ref, `\`) ||
		strings.Count(ref, "/") > 1 || filepath.VolumeName(ref) != ""
}
