package nvml

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AMDSampler reads AMD GPU memory from the amdgpu kernel driver's sysfs
// files, so that validate and load work on MI300X / MI250X hosts without
// a vendor library: each card's device/mem_info_vram_total and
// device/mem_info_vram_used hold the VRAM size and the VRAM in use, in
// bytes, one decimal line each
// (https://github.com/torvalds/linux/blob/b5630b0af3ca87e8080c89c67dc42663d2266a49/drivers/gpu/drm/amd/amdgpu/amdgpu_vram_mgr.c#L82-L97,
// https://github.com/torvalds/linux/blob/b5630b0af3ca87e8080c89c67dc42663d2266a49/drivers/gpu/drm/amd/amdgpu/amdgpu_vram_mgr.c#L116-L133).
// Only the amdgpu driver writes those files, so a card without them (an
// NVIDIA or Intel GPU, a display connector) is not an AMD GPU and is
// skipped. Devices are indexed in card-number order (card0, card1, …),
// which is the order the driver probed them, not ROCm's
// HIP_VISIBLE_DEVICES numbering. Name is device/product_name when the
// board has one, UUID device/unique_id when present, else "cardN".
//
// Every call reads the files again; a read that fails returns an error
// matching ErrUnavailable, and an index past the last card one matching
// ErrNoDevice. Reserved is 0 (the driver does not report it) and Free is
// total − used.
type AMDSampler struct {
	// Root is the DRM class directory; "" means /sys/class/drm. Tests point
	// it at a fake tree.
	Root string
}

// amdCard is one card directory that has the amdgpu memory files.
type amdCard struct {
	n   int    // N of cardN
	dev string // its device directory
}

func (a AMDSampler) root() string {
	if a.Root == "" {
		return "/sys/class/drm"
	}
	return a.Root
}

// cards lists the cardN directories with amdgpu's memory files, in N order.
func (a AMDSampler) cards() ([]amdCard, error) {
	entries, err := os.ReadDir(a.root())
	if err != nil {
		return nil, Unavailable(err, "nvml: amd: read %s", a.root())
	}
	var out []amdCard
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "card")
		n, err := strconv.Atoi(rest)
		if !ok || err != nil || n < 0 { // card0-HDMI-A-1 is a connector
			continue
		}
		dev := filepath.Join(a.root(), e.Name(), "device")
		if _, err := os.Stat(filepath.Join(dev, "mem_info_vram_total")); err != nil {
			continue
		}
		out = append(out, amdCard{n: n, dev: dev})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	if len(out) == 0 {
		return nil, Unavailable(nil, "nvml: amd: no amdgpu card under %s", a.root())
	}
	return out, nil
}

// readBytes reads one of the driver's decimal byte counts.
func readBytes(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readText reads an optional one-line attribute ("" when absent).
func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Devices implements Sampler.
func (a AMDSampler) Devices(ctx context.Context) ([]Device, error) {
	cards, err := a.cards()
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(cards))
	for i, c := range cards {
		total, err := readBytes(filepath.Join(c.dev, "mem_info_vram_total"))
		if err != nil {
			return nil, Unavailable(err, "nvml: amd: card%d", c.n)
		}
		name := readText(filepath.Join(c.dev, "product_name"))
		if name == "" {
			name = "AMD GPU card" + strconv.Itoa(c.n)
		}
		uuid := readText(filepath.Join(c.dev, "unique_id"))
		if uuid == "" {
			uuid = "card" + strconv.Itoa(c.n)
		}
		out = append(out, Device{Index: i, UUID: uuid, Name: name, Total: total})
	}
	return out, ctx.Err()
}

// Sample implements Sampler.
func (a AMDSampler) Sample(ctx context.Context, index int) (MemSample, error) {
	if err := ctx.Err(); err != nil {
		return MemSample{}, err
	}
	cards, err := a.cards()
	if err != nil {
		return MemSample{}, err
	}
	if index < 0 || index >= len(cards) {
		return MemSample{}, NoDevice(index)
	}
	c := cards[index]
	total, err := readBytes(filepath.Join(c.dev, "mem_info_vram_total"))
	if err != nil {
		return MemSample{}, Unavailable(err, "nvml: sample device %d (card%d)", index, c.n)
	}
	used, err := readBytes(filepath.Join(c.dev, "mem_info_vram_used"))
	if err != nil {
		return MemSample{}, Unavailable(err, "nvml: sample device %d (card%d)", index, c.n)
	}
	return MemSample{At: time.Now(), Index: index, Used: used, Free: total - min(used, total)}, nil
}

// Close implements Sampler; there is nothing to release.
func (AMDSampler) Close() error { return nil }

var _ Sampler = AMDSampler{}
