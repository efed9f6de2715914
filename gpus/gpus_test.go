package gpus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/gpus"
)

const mib = 1 << 20

func TestCatalogInvariants(t *testing.T) {
	all := gpus.All()
	if len(all) < 22 {
		t.Fatalf("catalog has %d SKUs, want at least 22", len(all))
	}
	keys := map[string]bool{}
	for _, s := range all {
		t.Run(s.Key, func(t *testing.T) {
			if s.Key == "" || keys[s.Key] {
				t.Fatalf("empty or duplicate key %q", s.Key)
			}
			keys[s.Key] = true
			if strings.TrimSpace(s.Source) == "" {
				t.Error("empty Source")
			}
			g := s.GPU
			if g.Name == "" || g.TotalBytes <= 0 || g.SMITotalMiB <= 0 || g.ComputeCapability <= 0 || s.NominalGB <= 0 {
				t.Errorf("incomplete entry: %+v nominal %v", g, s.NominalGB)
			}
			// The driver's reservation makes the runtime total at most
			// nvidia-smi's memory.total; in the data the gap is 0 (ROCm, where
			// both are the same figure) to 1103 MiB (GH200).
			smi := estimate.Bytes(g.SMITotalMiB) * mib
			if g.TotalBytes > smi {
				t.Errorf("TotalBytes %d > SMITotalMiB %d × 2^20 = %d", g.TotalBytes, g.SMITotalMiB, smi)
			}
			if gap := smi - g.TotalBytes; gap > 1200*mib {
				t.Errorf("nvidia-smi exceeds the runtime total by %s, more than any capture", gap)
			}
			// Reported/nominal ratio: 0.9146 (L4, ECC on) to 0.9999 (MI300X).
			r := float64(g.TotalBytes) / (s.NominalGB * float64(estimate.GiB))
			if r < 0.9 || r > 1.0 {
				t.Errorf("total %s is %.4f of the nominal %v GB", g.TotalBytes, r, s.NominalGB)
			}
			// Every entry resolves by its key, its device name and each alias.
			for _, n := range append([]string{s.Key, g.Name}, s.Aliases...) {
				got, err := gpus.Lookup(n)
				if err != nil || got.Key != s.Key {
					t.Errorf("Lookup(%q) = %q, %v; want %q", n, got.Key, err, s.Key)
				}
			}
		})
	}
}

func TestAllStableAndCopied(t *testing.T) {
	a, b := gpus.All(), gpus.All()
	for i := range a {
		if a[i].Key != b[i].Key {
			t.Fatalf("order differs at %d: %q vs %q", i, a[i].Key, b[i].Key)
		}
	}
	a[0].Aliases[0] = "mutated"
	a[0].GPU.TotalBytes = 1
	if c := gpus.All(); c[0].Aliases[0] == "mutated" || c[0].GPU.TotalBytes == 1 {
		t.Fatal("All returned the catalog's own storage")
	}
}

func TestLookupFigures(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		name    string
		total   estimate.Bytes
		smiMiB  int
		cc      int
		rocm    bool
		nominal float64
		comment string
	}{
		// 81,079.25 MiB × 1,048,576 = 85,017,755,648 B (deviceQuery); nvidia-smi 81,559 MiB × 1,048,576 = 85,520,809,984 B.
		{"H100", "h100-sxm", "NVIDIA H100 80GB HBM3", 85017755648, 81559, 90, false, 80, "79.18 GiB"},
		{"h100-sxm", "h100-sxm", "NVIDIA H100 80GB HBM3", 85017755648, 81559, 90, false, 80, ""},
		{"H100-80GB", "h100-sxm", "NVIDIA H100 80GB HBM3", 85017755648, 81559, 90, false, 80, ""},
		// TGI's card key: nvidia-smi name lower-cased, spaces → dashes.
		{"nvidia-h100-80gb-hbm3", "h100-sxm", "NVIDIA H100 80GB HBM3", 85017755648, 81559, 90, false, 80, ""},
		// 81,008 MiB × 1,048,576 = 84,943,044,608 B (torch total_memory, derived).
		{"H100 PCIe", "h100-pcie", "NVIDIA H100 PCIe", 84943044608, 81559, 90, false, 80, "79.11 GiB"},
		{"nvidia-h100-nvl", "h100-nvl", "NVIDIA H100 NVL", 99861594112, 95830, 90, false, 94, "93.00 GiB"},
		{"h200", "h200", "NVIDIA H200", 150021734400, 143771, 90, false, 141, "139.72 GiB"},
		{"GH200", "gh200", "NVIDIA GH200 480GB", 101468602368, 97871, 90, false, 96, "94.50 GiB"},
		// 182,631 MiB × 1,048,576 = 191,502,483,456 B.
		{"B200", "b200", "NVIDIA B200", 191502483456, 183359, 100, false, 180, "178.35 GiB"},
		{"a100", "a100-sxm-80gb", "NVIDIA A100-SXM4-80GB", 85100068864, 81920, 80, false, 80, "79.26 GiB"},
		{"A100-80G", "a100-sxm-80gb", "NVIDIA A100-SXM4-80GB", 85100068864, 81920, 80, false, 80, ""},
		{"nvidia-a100-sxm4-80gb", "a100-sxm-80gb", "NVIDIA A100-SXM4-80GB", 85100068864, 81920, 80, false, 80, ""},
		{"A100-40GB", "a100-sxm-40gb", "NVIDIA A100-SXM4-40GB", 42505273344, 40960, 80, false, 40, "39.59 GiB"},
		{"nvidia-a100-80gb-pcie", "a100-pcie-80gb", "NVIDIA A100 80GB PCIe", 84974239744, 81920, 80, false, 80, "79.14 GiB"},
		// 22,587 MiB × 1,048,576 = 23,684,186,112 B.
		{"NVIDIA A10G", "a10g", "NVIDIA A10G", 23684186112, 23028, 86, false, 24, "22.06 GiB"},
		{"A10", "a10", "NVIDIA A10", 23595909120, 23028, 86, false, 24, "21.98 GiB"},
		{"L4", "l4", "NVIDIA L4", 23570219008, 23034, 89, false, 24, "21.95 GiB"},
		{"nvidia-l40s", "l40s", "NVIDIA L40S", 47803596800, 46068, 89, false, 48, "44.52 GiB"},
		// 45,455 MiB × 1,048,576 = 47,663,022,080 B.
		{"L40", "l40", "NVIDIA L40", 47663022080, 46068, 89, false, 48, "44.39 GiB"},
		{"nvidia-a40", "a40", "NVIDIA A40", 47608692736, 46068, 86, false, 48, "44.34 GiB"},
		// 15,095 MiB × 1,048,576 = 15,828,254,720 B.
		{"Tesla T4", "t4", "Tesla T4", 15828254720, 15360, 75, false, 16, "14.74 GiB"},
		{"nvidia-t4", "t4", "Tesla T4", 15828254720, 15360, 75, false, 16, ""},
		{"V100", "v100-16gb", "Tesla V100-SXM2-16GB", 16928342016, 16384, 70, false, 16, "15.77 GiB"},
		{"Tesla V100-SXM2-32GB", "v100-32gb", "Tesla V100-SXM2-32GB", 34072559616, 32768, 70, false, 32, "31.73 GiB"},
		{"3090", "rtx-3090", "NVIDIA GeForce RTX 3090", 25327697920, 24576, 86, false, 24, "23.59 GiB"},
		{"4090", "rtx-4090", "NVIDIA GeForce RTX 4090", 25386352640, 24564, 89, false, 24, "23.64 GiB"},
		{"rtx4090", "rtx-4090", "NVIDIA GeForce RTX 4090", 25386352640, 24564, 89, false, 24, ""},
		{"nvidia-4090", "rtx-4090", "NVIDIA GeForce RTX 4090", 25386352640, 24564, 89, false, 24, ""},
		{"NVIDIA GeForce RTX 4090", "rtx-4090", "NVIDIA GeForce RTX 4090", 25386352640, 24564, 89, false, 24, ""},
		{"RTX 5090", "rtx-5090", "NVIDIA GeForce RTX 5090", 33680457728, 32607, 120, false, 32, "31.37 GiB"},
		{"NVIDIA RTX A6000", "rtx-a6000", "NVIDIA RTX A6000", 51160023040, 49140, 86, false, 48, "47.65 GiB"},
		{"rtx_6000_ada", "rtx-6000-ada", "NVIDIA RTX 6000 Ada Generation", 51002867712, 49140, 89, false, 48, "47.50 GiB"},
		// 196,592 MiB × 1,048,576 = 206,141,652,992 B.
		{"MI300X", "mi300x", "AMD Instinct MI300X", 206141652992, 196592, 94, true, 192, "191.98 GiB"},
		{"AMD Instinct MI250X", "mi250x", "AMD Instinct MI250X", 68702699520, 65520, 90, true, 64, "63.98 GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := gpus.Lookup(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			g := s.GPU
			if s.Key != tt.key || g.Name != tt.name || g.TotalBytes != tt.total || g.SMITotalMiB != tt.smiMiB ||
				g.ComputeCapability != tt.cc || g.ROCm != tt.rocm || s.NominalGB != tt.nominal {
				t.Errorf("Lookup(%q) = %s %q %d B, smi %d, cc %d, rocm %v, %v GB; want %s %q %d B, smi %d, cc %d, rocm %v, %v GB",
					tt.in, s.Key, g.Name, g.TotalBytes, g.SMITotalMiB, g.ComputeCapability, g.ROCm, s.NominalGB,
					tt.key, tt.name, tt.total, tt.smiMiB, tt.cc, tt.rocm, tt.nominal)
			}
			if tt.comment != "" && g.TotalBytes.String() != tt.comment {
				t.Errorf("TotalBytes = %s, want %s", g.TotalBytes, tt.comment)
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	tests := []struct {
		in   string
		want string // a key the error must suggest
	}{
		{"h1000", "h100-sxm"},
		{"h1000", "h100-pcie"},
		{"a100-120gb", "a100-sxm-80gb"},
		{"rtx 4080", "rtx-4090"},
		{"mi325x", "mi300x"},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := gpus.Lookup(tt.in)
			if !errors.Is(err, gpus.ErrUnknownGPU) {
				t.Fatalf("Lookup(%q) error = %v, want ErrUnknownGPU", tt.in, err)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not suggest %q", err, tt.want)
			}
		})
	}
}

func TestParseVRAM(t *testing.T) {
	tests := []struct {
		in      string
		want    estimate.Bytes
		noteHas []string
		why     string
	}{
		// Nominal sizes map to the smallest total the catalog's cards sold
		// at that size report (the safe side), and the note names it.
		{"80", 84943044608, []string{"80 GB card", "79.11 GiB", "CUDA runtime", "NVIDIA H100 PCIe", "the smallest total", "79.14–79.26 GiB", "h100-sxm"}, "H100 PCIe < H100 SXM, A100s"},
		{"80GB", 84943044608, []string{"80 GB card"}, ""},
		{" 80 gb ", 84943044608, []string{"80 GB card"}, ""},
		{"80G", 84943044608, []string{"80 GB card"}, ""},
		{"24", 23570219008, []string{"24 GB card", "21.95 GiB", "NVIDIA L4", "21.98–23.64 GiB", "a10g", "rtx-3090"}, "L4 < A10G, A10, 3090, 4090"},
		{"48GB", 47608692736, []string{"48 GB card", "44.34 GiB", "NVIDIA A40", "l40s", "rtx-a6000"}, ""},
		{"40GB", 42505273344, []string{"40 GB card", "39.59 GiB"}, "only the A100 40GB is sold as 40 GB: no range"},
		{"16", 15828254720, []string{"Tesla T4", "14.74 GiB", "v100-16gb"}, "one other card: a single value"},
		{"32GB", 33680457728, []string{"RTX 5090", "31.37 GiB", "v100-32gb"}, ""},
		{"94", 99861594112, []string{"H100 NVL"}, ""},
		{"141GB", 150021734400, []string{"NVIDIA H200", "139.72 GiB"}, ""},
		{"180", 191502483456, []string{"NVIDIA B200"}, ""},
		{"192GB", 191502483456, []string{"178.35 GiB", "NVIDIA B200", "191.98 GiB", "mi300x"}, "B200 (also sold as 192 GB) < MI300X"},
		// No card is sold as 100 GB: 100 GiB × 0.98886719 (the H100 PCIe
		// ratio 84,943,044,608 / 85,899,345,920, the catalog median)
		// = 84,943,044,608 × 100/80 = 106,178,805,760 B = 98.89 GiB.
		{"100GB", 106178805760, []string{"no catalog card is sold as 100 GB", "98.89 GiB", "0.9889"}, ""},
		// Exact sizes.
		// 79.19 × 1,073,741,824 = 85,029,615,042.56 → 85,029,615,043 B.
		{"79.19GiB", 85029615043, []string{"exact size", "85029615043 B"}, ""},
		{"79.19 GiB", 85029615043, nil, ""},
		// 81,559 MiB × 1,048,576 = 85,520,809,984 B.
		{"81559MiB", 85520809984, []string{"exact size", "79.65 GiB"}, ""},
		{"81559 MB", 85520809984, nil, "MB read as MiB"},
		{"85017755648", 85017755648, []string{"exact size", "85017755648 B", "79.18 GiB"}, ""},
		{"85017755648B", 85017755648, nil, ""},
		{"85017755648 bytes", 85017755648, nil, ""},
		// 1,073,741,824 B = 1 GiB, the smallest bare number read as bytes.
		{"1073741824", 1073741824, nil, ""},
		{"1TiB", 1 << 40, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, note, err := gpus.ParseVRAM(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseVRAM(%q) = %d (%s), want %d (%s)", tt.in, got, got, tt.want, tt.want)
			}
			for _, h := range tt.noteHas {
				if !strings.Contains(note, h) {
					t.Errorf("note %q lacks %q", note, h)
				}
			}
		})
	}
}

func TestParseVRAMErrors(t *testing.T) {
	for _, in := range []string{
		"", "  ", "0", "0GB", "0GiB", "-80", "-80GB", "+0", "NaN", "nan", "Inf", "-Inf", "abc", "GB",
		"80XB", "80 TB", "80kb", "1e3GB", "80,5GB", "85,017,755,648", "1.2.3", "--5",
		"81559",        // bare, between 4096 and 1 GiB: MiB or bytes?
		"1073741824.5", // fractional, above the nominal range
		"0.5",          // nominal below 1 GB
		"0.5B",         // fractional bytes
		"0.1B",
		"5000GB",  // nominal above 4096 GB
		"17TiB",   // above the 16 TiB cap
		"80 GB x", // trailing junk
	} {
		t.Run(in, func(t *testing.T) {
			got, note, err := gpus.ParseVRAM(in)
			if !errors.Is(err, gpus.ErrInvalidVRAM) {
				t.Fatalf("ParseVRAM(%q) = %d, %q, %v; want ErrInvalidVRAM", in, got, note, err)
			}
		})
	}
}

func ExampleLookup() {
	s, err := gpus.Lookup("H100")
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Key, s.GPU.Name, s.GPU.SMITotalMiB, s.GPU.TotalBytes)
	// Output: h100-sxm NVIDIA H100 80GB HBM3 81559 79.18 GiB
}

func ExampleParseVRAM() {
	b, note, err := gpus.ParseVRAM("80GB")
	if err != nil {
		panic(err)
	}
	fmt.Println(int64(b))
	fmt.Println(note)
	// Output:
	// 84943044608
	// 80 GB card: assuming 79.11 GiB reported by the CUDA runtime (NVIDIA H100 PCIe, the smallest total of the catalog's 80 GB cards); other 80 GB cards in the catalog report 79.14–79.26 GiB (h100-sxm, a100-sxm-80gb, a100-pcie-80gb), pass --gpu to pick one
}
