package gpus

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/fuzzy"
)

// SKU is one GPU model in the catalog.
type SKU struct {
	// Key is the canonical --gpu name, e.g. "h100-sxm".
	Key string
	// Aliases are other names Lookup accepts, e.g. "h100", "H100-80GB".
	Aliases []string
	// GPU is the device as the engines see it.
	GPU estimate.GPU
	// NominalGB is the memory size the card is sold as, in marketing GB
	// (80 for an H100 80GB), as opposed to what the runtime reports.
	NominalGB float64
	// Source cites every number of the entry and says which are derived.
	Source string
}

// ErrUnknownGPU is wrapped by Lookup's error for a name not in the catalog.
var ErrUnknownGPU = errors.New("unknown GPU")

// ErrInvalidVRAM is wrapped by ParseVRAM's errors.
var ErrInvalidVRAM = errors.New("invalid VRAM size")

// Limits on what ParseVRAM accepts.
const (
	// maxNominalGB is the largest bare number read as a nominal size; a
	// larger bare number must be a byte count (≥ 1 GiB) or carry a unit.
	maxNominalGB = 4096
	// maxBytes caps any size at 16 TiB, far above any single device.
	maxBytes = 16 << 40
)

var (
	// index maps a normalized key, alias or device name to its catalog position.
	index = sync.OnceValue(buildIndex)
	// nominalRatio is the median over the catalog of TotalBytes divided by
	// NominalGB GiB, used for nominal sizes no catalog card is sold as.
	nominalRatio = sync.OnceValue(medianRatio)
)

// All returns a copy of the catalog in a stable order (by vendor and
// generation, as listed in catalog.go).
func All() []SKU {
	out := make([]SKU, len(catalog))
	for i, s := range catalog {
		out[i] = clone(s)
	}
	return out
}

// Lookup finds a GPU by key, alias or the name nvidia-smi/rocm-smi prints.
// It ignores case, spaces, dashes and underscores, and a leading vendor or
// brand word ("NVIDIA", "GeForce", "Tesla", "AMD", "Instinct"), so
// "H100", "h100-sxm", "NVIDIA H100 80GB HBM3", TGI's card key
// "nvidia-h100-80gb-hbm3" and "nvidia-4090" all resolve. An unknown name
// gives an error wrapping ErrUnknownGPU that lists close matches.
func Lookup(name string) (SKU, error) {
	n := normalize(name)
	if n == "" {
		return SKU{}, fmt.Errorf("gpus: %w: empty name", ErrUnknownGPU)
	}
	if i, ok := index()[n]; ok {
		return clone(catalog[i]), nil
	}
	return SKU{}, fmt.Errorf("gpus: %w %q; close matches: %s", ErrUnknownGPU, name, strings.Join(closeMatches(n, 3), ", "))
}

// ParseVRAM reads a per-GPU memory size and returns the bytes the runtime
// would report, with a note saying how the input was read.
//
//   - "80", "80GB", "80 GB", "80G": a card sold as 80 GB. The nominal size is
//     mapped to the smallest total the CUDA (or ROCm) runtime reports for
//     the catalog's cards sold at that size (the safe side when the card is
//     not known), and the note names that card and the others. For a size no catalog card
//     is sold as, the total is the nominal size in GiB times the catalog's
//     median reported/nominal ratio (0.9889).
//   - "79.19GiB", "81559MiB", "81559MB" (MB read as MiB, as nvidia-smi,
//     torch and deviceQuery print it), "1TiB", "512KiB": exact binary sizes.
//   - "85017755648" (a bare whole number of at least 1 GiB) or
//     "85017755648B": exact bytes.
//
// Zero, negative, NaN, unknown units and other junk are errors wrapping
// ErrInvalidVRAM; so is a bare number above 4096 and below 1 GiB, which
// could be MiB or bytes.
func ParseVRAM(s string) (estimate.Bytes, string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, "", vramErr(s, "empty")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.' || t[i] == '+' || t[i] == '-') {
		i++
	}
	numStr, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if numStr == "" {
		return 0, "", vramErr(s, "not a number")
	}
	v, err := strconv.ParseFloat(numStr, 64)
	if err != nil {
		return 0, "", vramErr(s, "not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, "", vramErr(s, "not a finite number")
	}
	if v <= 0 {
		return 0, "", vramErr(s, "must be positive")
	}
	switch unit {
	case "":
		switch {
		case v == math.Trunc(v) && v >= float64(estimate.GiB):
			return exact(s, v, 1)
		case v <= maxNominalGB:
			return nominal(s, v)
		default:
			return 0, "", vramErr(s, "ambiguous without a unit; write e.g. 80GB (card size), 79.19GiB, 81559MiB or a byte count")
		}
	case "b", "byte", "bytes":
		if v != math.Trunc(v) {
			return 0, "", vramErr(s, "a byte count must be a whole number")
		}
		return exact(s, v, 1)
	case "kib", "ki":
		return exact(s, v, estimate.KiB)
	case "mib", "mi", "mb", "mbytes":
		return exact(s, v, estimate.MiB)
	case "gib", "gi":
		return exact(s, v, estimate.GiB)
	case "tib", "ti":
		return exact(s, v, 1<<40)
	case "gb", "g", "gbytes":
		return nominal(s, v)
	}
	return 0, "", vramErr(s, fmt.Sprintf("unknown unit %q (use GB for a card's size, or GiB, MiB, B)", unit))
}

func vramErr(s, why string) error {
	return fmt.Errorf("gpus: %w %q: %s", ErrInvalidVRAM, s, why)
}

// exact converts v units to bytes.
func exact(s string, v float64, unit estimate.Bytes) (estimate.Bytes, string, error) {
	f := math.Round(v * float64(unit))
	if f < 1 {
		return 0, "", vramErr(s, "smaller than one byte")
	}
	if f > maxBytes {
		return 0, "", vramErr(s, "larger than any GPU (16 TiB cap)")
	}
	b := estimate.Bytes(f)
	return b, fmt.Sprintf("exact size: %d B (%s)", int64(b), b), nil
}

// nominal maps a card's marketing size in GB to the total its runtime reports.
func nominal(s string, gb float64) (estimate.Bytes, string, error) {
	if gb < 1 {
		return 0, "", vramErr(s, "smaller than any GPU (1 GB minimum)")
	}
	if gb > maxNominalGB {
		return 0, "", vramErr(s, "larger than any GPU")
	}
	size := strconv.FormatFloat(gb, 'f', -1, 64)
	cands := soldAs(gb)
	if len(cands) == 0 {
		f := math.Round(gb * float64(estimate.GiB) * nominalRatio())
		b := estimate.Bytes(f)
		return b, fmt.Sprintf("no catalog card is sold as %s GB: assuming %.2f GiB (%s GiB × %.4f, the median ratio of "+
			"runtime-reported total to nominal size over the %d catalog cards; ECC-enabled GDDR cards report about 7%% less); "+
			"give an exact size such as %.2fGiB, or pass --gpu", size, b.GiBs(), size, nominalRatio(), len(catalog), b.GiBs()), nil
	}
	// The smallest total of the cards sold at that size: the safe side
	// when the card itself is not known.
	rep := cands[0]
	for _, c := range cands {
		if catalog[c].GPU.TotalBytes < catalog[rep].GPU.TotalBytes {
			rep = c
		}
	}
	r := catalog[rep]
	runtime := "CUDA"
	if r.GPU.ROCm {
		runtime = "ROCm"
	}
	note := fmt.Sprintf("%s GB card: assuming %.2f GiB reported by the %s runtime (%s, the smallest total of the catalog's %s GB cards)", size, r.GPU.TotalBytes.GiBs(), runtime, r.GPU.Name, size)
	if len(cands) > 1 {
		lo, hi := math.Inf(1), math.Inf(-1)
		var keys []string
		for _, c := range cands {
			if c == rep {
				continue
			}
			g := catalog[c].GPU.TotalBytes.GiBs()
			lo, hi = math.Min(lo, g), math.Max(hi, g)
			keys = append(keys, catalog[c].Key)
		}
		rng := fmt.Sprintf("%.2f", lo)
		if fmt.Sprintf("%.2f", hi) != rng {
			rng += fmt.Sprintf("–%.2f", hi)
		}
		note += fmt.Sprintf("; other %s GB cards in the catalog report %s GiB (%s), pass --gpu to pick one", size, rng, strings.Join(keys, ", "))
	}
	return r.GPU.TotalBytes, note, nil
}

// soldAs returns the catalog positions of cards marketed as gb GB.
func soldAs(gb float64) []int {
	var out []int
	for i, s := range catalog {
		if s.NominalGB == gb || slices.Contains(alsoSoldAs[s.Key], gb) {
			out = append(out, i)
		}
	}
	return out
}

func clone(s SKU) SKU {
	s.Aliases = slices.Clone(s.Aliases)
	return s
}

// brandWords are stripped from the front of a normalized name.
var brandWords = []string{"nvidia", "geforce", "tesla", "amd", "instinct"}

// normalize lower-cases s, drops spaces, dashes and underscores, and strips
// leading brand words.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '-', '_':
			continue
		}
		b.WriteRune(r)
	}
	t := b.String()
	for changed := true; changed; {
		changed = false
		for _, w := range brandWords {
			if len(t) > len(w) && strings.HasPrefix(t, w) {
				t, changed = t[len(w):], true
			}
		}
	}
	return t
}

// names returns every normalized name of s: key, aliases and device name.
func names(s SKU) []string {
	out := []string{normalize(s.Key), normalize(s.GPU.Name)}
	for _, a := range s.Aliases {
		out = append(out, normalize(a))
	}
	return out
}

func buildIndex() map[string]int {
	m := make(map[string]int)
	for i, s := range catalog {
		for _, n := range names(s) {
			if j, ok := m[n]; ok && j != i {
				panic(fmt.Sprintf("gpus: name %q is both %s and %s", n, catalog[j].Key, s.Key))
			}
			m[n] = i
		}
	}
	return m
}

func medianRatio() float64 {
	r := make([]float64, len(catalog))
	for i, s := range catalog {
		r[i] = float64(s.GPU.TotalBytes) / (s.NominalGB * float64(estimate.GiB))
	}
	sort.Float64s(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

// closeMatches returns up to n catalog keys nearest to the normalized name q.
func closeMatches(q string, n int) []string {
	type cand struct {
		key  string
		dist int
		pos  int
	}
	var cs []cand
	for i, s := range catalog {
		best := math.MaxInt
		for _, name := range names(s) {
			d := fuzzy.Distance(q, name)
			if len(name) > len(q) {
				// A near-prefix ("h1000" of "h100pcie") counts, one step worse.
				d = min(d, fuzzy.Distance(q, name[:len(q)])+1)
			}
			if strings.Contains(name, q) || strings.Contains(q, name) {
				// A substring ("h10" in "h100sxm") is close whatever its length.
				d = min(d, 1)
			}
			best = min(best, d)
		}
		cs = append(cs, cand{s.Key, best, i})
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].dist < cs[b].dist })
	out := make([]string, 0, n)
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.key)
	}
	return out
}
