package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/hfmeta/catalog"
	"github.com/vramcalc/vramcalc/internal/fuzzy"
)

// ModelFlags are the flags that say where a model's metadata may come from.
func ModelFlags() []cli.Flag {
	timeout := TimeoutFlag()
	timeout.Category = "model"
	return []cli.Flag{
		&cli.StringFlag{Name: "revision", Value: "main", Usage: "Hub revision (branch, tag or commit)", Category: "model"},
		&cli.BoolFlag{Name: "offline", Usage: "never use the network (same as HF_HUB_OFFLINE=1)", Category: "model"},
		timeout,
	}
}

// Client is the Hugging Face client for c's model flags and e's
// environment: only here does vramcalc read the HF_* variables. Its Hub
// step is e.Hub, or vramcalc-hub in a child process (HubCompanion) when
// that is nil. The Hub step has req.Timeout to answer (plus timeoutGrace
// for vramcalc-hub, which keeps the deadline itself and says what it was
// waiting on); past it the error is MetadataTimeout's.
func Client(c *cli.Command, e Env) *hfmeta.Client {
	req := HubRequestFrom(c, e)
	fetch, grace := e.Hub, time.Duration(0)
	if fetch == nil {
		fetch, grace = HubCompanion, timeoutGrace
	}
	return &hfmeta.Client{
		Endpoint: req.Endpoint,
		CacheDir: hfmeta.CacheDirFromEnv(e.Getenv),
		Offline:  c.Bool("offline") || Truthy(e.Getenv("HF_HUB_OFFLINE")) || Truthy(e.Getenv("TRANSFORMERS_OFFLINE")),
		Revision: req.Revision,
		Remote: func(ctx context.Context, repo string) (hfmeta.Meta, error) {
			r := req
			r.Repo = repo
			dctx, cancel := context.WithTimeout(ctx, r.Timeout+grace)
			defer cancel()
			m, err := fetch(dctx, r)
			if err != nil && ctx.Err() == nil && dctx.Err() != nil && !errors.Is(err, ErrNoAnswer) {
				return m, MetadataTimeout(r.Timeout, err)
			}
			return m, err
		},
	}
}

// ResolveModel finds ref's metadata; a name that is not found but is close
// to a catalog model's gets a "did you mean" hint, and a config.json or
// safetensors header with a size beyond any real model's (hfmeta names the
// key and its limit) one that says what is wrong with it.
func ResolveModel(ctx context.Context, c *cli.Command, e Env, ref string) (hfmeta.Meta, error) {
	meta, err := Client(c, e).Resolve(ctx, ref)
	if err != nil && errors.Is(err, estimate.ErrImplausible) {
		return meta, WithHint(err, "no real model is that large (each limit is at least 10 times the largest public model's): check the model's config.json and safetensors headers for a typo or a corrupt file")
	}
	if err != nil && errors.Is(err, hfmeta.ErrNotFound) {
		if s := SuggestModel(ref); s != "" {
			return meta, WithHint(err, fmt.Sprintf("did you mean %s? (`vramcalc models` lists the built-in catalog)", s))
		}
	}
	return meta, err
}

// SuggestModel is the catalog model ref most likely means: the one whose
// repo name is ref (a bare "Llama-3.1-8B-Instruct"), else the closest id by
// edit distance when it is close; "" when none is.
func SuggestModel(ref string) string {
	q := strings.ToLower(strings.TrimSpace(ref))
	if q == "" {
		return ""
	}
	ids := catalog.IDs()
	for _, id := range ids {
		_, name, _ := strings.Cut(id, "/")
		if strings.ToLower(name) == q || strings.ToLower(id) == q {
			return id
		}
	}
	type cand struct {
		id string
		d  int
	}
	var cs []cand
	for _, id := range ids {
		_, name, _ := strings.Cut(id, "/")
		d := min(fuzzy.Distance(q, strings.ToLower(id)), fuzzy.Distance(q, strings.ToLower(name)))
		if d <= max(2, len(q)/6) {
			cs = append(cs, cand{id, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	if len(cs) == 0 {
		return ""
	}
	return cs[0].id
}

// HFToken follows huggingface_hub: HF_TOKEN, then the token file
// (HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token).
// It is passed on and never printed.
func HFToken(getenv func(string) string) string {
	if t := strings.TrimSpace(getenv("HF_TOKEN")); t != "" {
		return t
	}
	if t := strings.TrimSpace(getenv("HUGGING_FACE_HUB_TOKEN")); t != "" {
		return t
	}
	path := getenv("HF_TOKEN_PATH")
	if path == "" {
		home := getenv("HF_HOME")
		if home == "" {
			if h := getenv("HOME"); h != "" {
				home = filepath.Join(h, ".cache", "huggingface")
			}
		}
		if home != "" {
			path = filepath.Join(home, "token")
		}
	}
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// HubCacheWord is the host's hub cache as a word for a launch line's
// mount: "$HF_HUB_CACHE" when the user set it, else launch's default
// ($HF_HOME/hub with HF_HOME's own default), left for the shell to expand.
func HubCacheWord(getenv func(string) string) string {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if getenv(k) != "" {
			return `"$` + k + `"`
		}
	}
	return ""
}
