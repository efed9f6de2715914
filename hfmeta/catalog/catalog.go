// Package catalog embeds config.json copies and tensor summaries of popular
// Hugging Face models, so that vramcalc can estimate them without network
// access.
//
// Each model lives in models/<org>__<repo>/ with
//   - config.json: a public copy of the Hub file (or a marked partial
//     reconstruction, with a "_provenance" key),
//   - tensors.json: the checkpoint's tensors (name, dtype, shape, count; no
//     weights), generated from config.json by hfmeta.ParseConfig and
//     estimate.SynthesizeTensors plus per-model overrides where the real
//     checkpoint differs,
//   - source.txt: where every value came from and the Hugging Face parameter
//     count the tensor summary was checked against.
//
// index.go lists the entries. Lookup decodes only the entry asked for.
// Regenerate tensors.json, index.go and the generated part of source.txt
// with go generate after changing a config.json or an override.
package catalog

//go:generate go run ./internal/gen

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/vramcalc/vramcalc/estimate"
)

//go:embed models
var files embed.FS

// Date is when the catalog's entries last changed (`vramcalc version`
// prints it); change it with them.
const Date = "2026-12-04"

// Entry is one catalog model.
type Entry struct {
	// ID is the Hub repo id, e.g. "meta-llama/Llama-3.1-8B-Instruct".
	ID string
	// Config is the config.json text.
	Config []byte
	// Tensors is the checkpoint's tensor summary (grouped with Count).
	Tensors []estimate.Tensor
	// Source is the source.txt text: provenance of the config and of the
	// tensor summary.
	Source string
	// Params is the Hugging Face API safetensors parameter count ("total",
	// which for FP8 and MXFP4 checkpoints counts stored elements), or 0 when
	// no exact figure was found.
	Params int64
}

// indexEntry is one catalog entry as index.go (generated) lists it.
type indexEntry struct {
	ID     string
	Dir    string // directory under models/
	Params int64
}

// tensorsFile is the layout of tensors.json.
type tensorsFile struct {
	Tensors []estimate.Tensor `json:"tensors"`
}

// normalize trims a user-supplied id to what is compared with the index
// (case-insensitively): surrounding spaces and slashes and a leading
// "https://huggingface.co/" are ignored.
func normalize(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "https://huggingface.co/")
	return strings.Trim(id, "/")
}

// Lookup returns the entry for a repo id ("meta-llama/Llama-3.1-8B-Instruct",
// case-insensitive) or its directory name ("meta-llama__Llama-3.1-8B-Instruct").
// Only that entry's files are read and decoded.
func Lookup(id string) (Entry, bool) {
	key := normalize(id)
	for _, ie := range index {
		if strings.EqualFold(ie.ID, key) || strings.EqualFold(ie.Dir, key) {
			e, err := load(ie)
			return e, err == nil
		}
	}
	return Entry{}, false
}

// load reads one entry's files.
func load(ie indexEntry) (Entry, error) {
	dir := path.Join("models", ie.Dir)
	cfg, err := files.ReadFile(path.Join(dir, "config.json"))
	if err != nil {
		return Entry{}, fmt.Errorf("catalog: %s: %w", ie.ID, err)
	}
	src, err := files.ReadFile(path.Join(dir, "source.txt"))
	if err != nil {
		return Entry{}, fmt.Errorf("catalog: %s: %w", ie.ID, err)
	}
	raw, err := files.ReadFile(path.Join(dir, "tensors.json"))
	if err != nil {
		return Entry{}, fmt.Errorf("catalog: %s: %w", ie.ID, err)
	}
	var tf tensorsFile
	if err := json.Unmarshal(raw, &tf); err != nil {
		return Entry{}, fmt.Errorf("catalog: %s: decode tensors.json: %w", ie.ID, err)
	}
	return Entry{ID: ie.ID, Config: cfg, Tensors: tf.Tensors, Source: string(src), Params: ie.Params}, nil
}

// IDs returns every repo id in the catalog, sorted case-insensitively.
func IDs() []string {
	out := make([]string, len(index))
	for i, e := range index {
		out[i] = e.ID
	}
	return out
}

// All returns every entry, in IDs order. It reads and decodes every file.
func All() []Entry {
	out := make([]Entry, 0, len(index))
	for _, ie := range index {
		e, err := load(ie)
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}
