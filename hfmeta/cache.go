package hfmeta

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/vramcalc/vramcalc/estimate"
)

// CacheDirFromEnv returns the Hugging Face hub cache directory the way
// huggingface_hub computes it (https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L156-L182):
// HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
// else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. A
// leading "~" is expanded with HOME (upstream also expands $VARS with
// os.path.expandvars; that is not done here). It returns "" when no HOME is known.
// The caller passes os.Getenv; the package itself reads no environment.
func CacheDirFromEnv(getenv func(string) string) string {
	home := getenv("HOME")
	if home == "" {
		home = getenv("USERPROFILE")
	}
	expand := func(p string) string {
		if p == "~" || strings.HasPrefix(p, "~/") {
			if home == "" {
				return ""
			}
			return filepath.Join(home, p[1:])
		}
		return p
	}
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if v := getenv(k); v != "" {
			return expand(v)
		}
	}
	hfHome := getenv("HF_HOME")
	if hfHome == "" {
		cache := getenv("XDG_CACHE_HOME")
		if cache == "" {
			if home == "" {
				return ""
			}
			cache = filepath.Join(home, ".cache")
		}
		hfHome = filepath.Join(cache, "huggingface")
	}
	if hfHome = expand(hfHome); hfHome == "" {
		return ""
	}
	return filepath.Join(hfHome, "hub")
}

// OfflineFromEnv reports whether HF_HUB_OFFLINE (or, when that is unset,
// TRANSFORMERS_OFFLINE) is 1, ON, YES or TRUE in any case, as
// huggingface_hub reads it (ENV_VARS_TRUE_VALUES and _is_true,
// https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L12 and https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L16-L19;
// HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE, https://github.com/huggingface/huggingface_hub/blob/v1.28.0/src/huggingface_hub/constants.py#L192).
func OfflineFromEnv(getenv func(string) string) bool {
	v := getenv("HF_HUB_OFFLINE")
	if v == "" {
		v = getenv("TRANSFORMERS_OFFLINE")
	}
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// commitPattern is a full git commit hash, the name of a cache snapshot.
var commitPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}$`) })

// FromCache reads repo from the Hugging Face hub cache in c.CacheDir:
// models--{org}--{name}/refs/{revision} holds the commit hash (a Revision
// that is a commit hash is used as is), and snapshots/{commit}/ holds
// config.json and whichever safetensors files were downloaded, usually as
// symlinks into blobs/. Without config.json the error wraps ErrNotFound;
// without safetensors files, or with only some shards, Meta has no tensors
// and a warning says why.
func (c *Client) FromCache(repo string) (Meta, error) {
	if c.CacheDir == "" {
		return Meta{}, fmt.Errorf("hfmeta: cache: no cache dir set: %w", ErrNotFound)
	}
	if err := CheckRepoID(repo); err != nil {
		return Meta{}, fmt.Errorf("hfmeta: cache: %q is not a repo id (%v): %w", repo, err, ErrNotFound)
	}
	repoDir := filepath.Join(c.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
	rev, commit := c.revision(), c.revision()
	if !commitPattern().MatchString(rev) {
		if !fs.ValidPath(rev) {
			return Meta{}, fmt.Errorf("hfmeta: cache: revision %q is not a valid ref name: %w", rev, ErrNotFound)
		}
		ref := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
		b, err := os.ReadFile(ref)
		if errors.Is(err, fs.ErrNotExist) {
			return Meta{}, fmt.Errorf("hfmeta: cache: no %s: %w", ref, ErrNotFound)
		}
		if err != nil {
			return Meta{}, fmt.Errorf("hfmeta: cache: %w", err)
		}
		commit = strings.TrimSpace(string(b))
		if !commitPattern().MatchString(commit) {
			return Meta{}, fmt.Errorf("hfmeta: cache: %s holds %q, not a commit hash", ref, commit)
		}
	}
	snap := filepath.Join(repoDir, "snapshots", commit)
	m, err := readModelDir(snap, repo)
	if err != nil {
		return Meta{}, err
	}
	m.Source, m.Location = SourceCache, snap
	return m, nil
}

// FromDir reads dir/config.json and the headers of dir's safetensors
// files: the shards model.safetensors.index.json lists, else
// model.safetensors, else every *.safetensors file (with a warning when
// there are several).
func (c *Client) FromDir(dir string) (Meta, error) {
	m, err := readModelDir(dir, dir)
	if err != nil {
		return Meta{}, err
	}
	m.Source, m.Location = SourceLocal, dir
	return m, nil
}

// readModelDir reads a model directory (a local checkout or a cache
// snapshot); id becomes Model.ID.
func readModelDir(dir, id string) (Meta, error) {
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := readFileLimit(cfgPath, MaxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, fmt.Errorf("hfmeta: no config.json in %s: %w", dir, ErrNotFound)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("hfmeta: %w", err)
	}
	model, warnings, err := ParseConfig(cfg)
	if err != nil {
		return Meta{}, fmt.Errorf("%w (%s)", err, cfgPath)
	}
	model.ID = id
	meta := Meta{Warnings: warnings, BytesRead: int64(len(cfg))}

	files, note, n, err := localShards(dir)
	meta.BytesRead += n
	if err != nil {
		return Meta{}, err
	}
	if note != "" {
		meta.Warnings = append(meta.Warnings, note)
	}
	var all []estimate.Tensor
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		ts, n, err := readLocalHeader(p)
		meta.BytesRead += n
		if err != nil {
			return Meta{}, fmt.Errorf("hfmeta: read header %s: %w", p, err)
		}
		all = append(all, ts...)
	}
	meta.Model = model
	if len(files) > 0 {
		meta.SetTensors(all, estimate.WeightsFromSafetensors)
	}
	return meta, nil
}

// localShards picks the safetensors files of dir to read. When there are
// none to read it returns a note for Meta.Warnings instead.
func localShards(dir string) (files []string, note string, bytesRead int64, err error) {
	idxPath := filepath.Join(dir, IndexFile)
	idx, err := readFileLimit(idxPath, MaxIndexSize)
	switch {
	case err == nil:
		names, err := ParseIndex(idx)
		if err != nil {
			return nil, "", int64(len(idx)), fmt.Errorf("hfmeta: %s: %w", idxPath, err)
		}
		var missing []string
		for _, name := range names {
			// Stat follows the cache's symlinks; a dangling one is missing.
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Sprintf("%d of the %d shards in %s are missing (first: %s); weights derived from config.json",
				len(missing), len(names), idxPath, missing[0]), int64(len(idx)), nil
		}
		return names, "", int64(len(idx)), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", 0, fmt.Errorf("hfmeta: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SingleFile)); err == nil {
		return []string{SingleFile}, "", 0, nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return nil, "", 0, fmt.Errorf("hfmeta: %w", err)
	}
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, filepath.Base(m))
		}
	}
	slices.Sort(files)
	switch len(files) {
	case 0:
		note = fmt.Sprintf("no safetensors files in %s; weights derived from config.json", dir)
	case 1:
	default:
		note = fmt.Sprintf("no %s or %s in %s; counting the tensors of all %d *.safetensors files", SingleFile, IndexFile, dir, len(files))
	}
	return files, note, 0, nil
}

// readLocalHeader parses the safetensors header of the file at p.
func readLocalHeader(p string) ([]estimate.Tensor, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return readHeaderAt(f, fi.Size())
}

// readFileLimit reads a file of at most limit bytes.
func readFileLimit(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrFileTooLarge, p, limit)
	}
	return b, nil
}
