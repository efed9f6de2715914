package nvml_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/nvml"
)

// fakeDRM writes a /sys/class/drm tree: an MI300X at card1 (192 GiB,
// 12 GiB used), an MI250X GCD at card3 without product_name, a display
// connector, and an NVIDIA card0 without the amdgpu files.
func fakeDRM(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("card0/device/vendor", "0x10de\n")
	write("card1/device/mem_info_vram_total", "206158430208\n") // 192 GiB
	write("card1/device/mem_info_vram_used", "12884901888\n")   // 12 GiB
	write("card1/device/product_name", "AMD Instinct MI300X\n")
	write("card1/device/unique_id", "5b6f2d1a3c4e7f80\n")
	write("card1-DP-1/status", "disconnected\n")
	write("card3/device/mem_info_vram_total", "68702699520\n") // 64 GiB
	write("card3/device/mem_info_vram_used", "1048576\n")
	return root
}

// TestAMDSampler: the amdgpu cards in card order, their names and UUIDs
// when the board has them, and used/free from the driver's byte counts.
func TestAMDSampler(t *testing.T) {
	ctx := context.Background()
	s := nvml.AMDSampler{Root: fakeDRM(t)}
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []nvml.Device{
		{Index: 0, UUID: "5b6f2d1a3c4e7f80", Name: "AMD Instinct MI300X", Total: 206_158_430_208},
		{Index: 1, UUID: "card3", Name: "AMD GPU card3", Total: 68_702_699_520},
	}
	if len(devs) != 2 || devs[0] != want[0] || devs[1] != want[1] {
		t.Fatalf("devices %+v, want %+v", devs, want)
	}
	m, err := s.Sample(ctx, 0)
	// free = 206,158,430,208 − 12,884,901,888 = 193,273,528,320
	if err != nil || m.Used != 12_884_901_888 || m.Free != 193_273_528_320 || m.Index != 0 {
		t.Errorf("sample 0: %+v, %v", m, err)
	}
	if _, err := s.Sample(ctx, 2); !errors.Is(err, nvml.ErrNoDevice) {
		t.Errorf("index 2: %v, want ErrNoDevice", err)
	}
	// A host without amdgpu (or without sysfs) is unavailable, not empty.
	if _, err := (nvml.AMDSampler{Root: t.TempDir()}).Devices(ctx); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("no card: %v, want ErrUnavailable", err)
	}
	if _, err := (nvml.AMDSampler{Root: filepath.Join(t.TempDir(), "absent")}).Sample(ctx, 0); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("no sysfs: %v, want ErrUnavailable", err)
	}
	// A torn read (the file is there but empty) is an error, not 0 bytes.
	root := fakeDRM(t)
	if err := os.WriteFile(filepath.Join(root, "card1/device/mem_info_vram_used"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (nvml.AMDSampler{Root: root}).Sample(ctx, 0); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("empty used file: %v, want ErrUnavailable", err)
	}
}

// TestAMDSamplerWatch: the package's Watch records an AMD card's peak as
// it does NVML's: the driver's count rises from 1 MiB to 40 GiB while the
// watch runs and Stop reports the highest (Stop takes a final sample).
func TestAMDSamplerWatch(t *testing.T) {
	root := fakeDRM(t)
	s := nvml.AMDSampler{Root: root}
	p := nvml.Watch(context.Background(), s, []int{1}, time.Millisecond)
	if err := os.WriteFile(filepath.Join(root, "card3/device/mem_info_vram_used"), []byte("42949672960\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := p.Stop()[1]; got != 42_949_672_960 {
		t.Errorf("peak of card3 %d, want 42,949,672,960 (40 GiB)", got)
	}
}
