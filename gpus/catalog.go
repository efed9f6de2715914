package gpus

import "github.com/vramcalc/vramcalc/estimate"

// mib is one MiB in bytes (2^20 = 1,048,576).
const mib estimate.Bytes = 1 << 20

// Repositories and pages that several entries cite.
const (
	// gls is Tsuyoshi Hamada's "gpu list" tool, which replays real nvidia-smi
	// and deviceQuery captures per machine (successor of thamada/nvidia-smi).
	gls = "github.com/thamada/gls@e20f22d0eec076b6eeed628fdb1312d84a6fb663"
	// deac is the Wake Forest DEAC cluster's "Cluster GPU Overview" page
	// (deviceQuery from CUDA 12.4.1 demo_suite on every node type).
	deac = "DEAC cluster GPU overview, deviceQuery with driver CUDA 12.4 (search-index file id 5676699412)"
	// ccTable is NVIDIA's compute-capability table.
	ccTable = "https://developer.nvidia.com/cuda-gpus"
)

// catalog is the GPU table, in the order All returns it. Every number is
// either read from a public capture (observed) or computed from one
// (derived); Source says which, and from where. "search-index file id N" is
// the id of a stored copy in the project's code search whose repository
// could not be resolved.
var catalog = []SKU{
	// ---- NVIDIA Hopper / Blackwell ----
	{
		Key:     "h100-sxm",
		Aliases: []string{"h100", "h100-80gb", "h100-80g", "h100-sxm5", "h100-sxm-80gb", "h100-hbm3"},
		GPU: estimate.GPU{
			Name: "NVIDIA H100 80GB HBM3",
			// deviceQuery "81079 MBytes (85017755648 bytes)": 85,017,755,648 B / 1,048,576 = 81,079.25 MiB = 79.18 GiB.
			TotalBytes:        85017755648,
			SMITotalMiB:       81559,
			ComputeCapability: 90,
		},
		NominalGB: 80,
		Source: "name, CC 9.0, nvidia-smi 81559 MiB (driver 565.57.01): " + gls + " gls/H100SXMx8_smi.py, gls/H100SXMx8_deviceQuery.py; " +
			"total observed: deviceQuery \"81079 MBytes (85017755648 bytes)\", driver CUDA 13.0, " +
			"https://topofmind.dev/blog/2025/10/21/gpu-based-containers-as-a-service (search-index file id 24146908628); " +
			"the gls capture on driver 565 reads 85045477376 B (79.20 GiB), vLLM printed 79.18 GiB (testdata/startup_reports_dev.csv rows 20-23)",
	},
	{
		Key:     "h100-pcie",
		Aliases: []string{"h100-pcie-80gb", "h100-pcie-80g"},
		GPU: estimate.GPU{
			Name: "NVIDIA H100 PCIe",
			// torch total_memory=81008MB (MiB): 81,008 × 1,048,576 = 84,943,044,608 B = 79.11 GiB.
			TotalBytes:        81008 * mib,
			SMITotalMiB:       81559,
			ComputeCapability: 90,
		},
		NominalGB: 80,
		Source: "nvidia-smi 81559 MiB: SkyPilot log (search-index file id 375550049) and 9 more captures; " +
			"CC 9.0 and total derived: torch \"_CudaDeviceProperties(name='NVIDIA H100 PCIe', major=9, minor=0, total_memory=81008MB)\" " +
			"(search-index file id 33356850601), 81008 MiB × 2^20 (torch truncates to whole MiB, so the true total is < 1 MiB higher)",
	},
	{
		Key:     "h100-nvl",
		Aliases: []string{"h100-94gb", "h100-nvl-94gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA H100 NVL",
			// deviceQuery "95235 MBytes (99861594112 bytes)" = 93.00 GiB.
			TotalBytes:        99861594112,
			SMITotalMiB:       95830,
			ComputeCapability: 90,
		},
		NominalGB: 94,
		Source: "name, CC 9.0, nvidia-smi 95830 MiB, total observed 99861594112 B (driver 550.54.14): " +
			gls + " gls/H100NVLx2_smi.py, gls/H100NVLx2_deviceQuery.py",
	},
	{
		Key:     "h200",
		Aliases: []string{"h200-141gb", "h200-sxm", "h200-sxm-141gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA H200",
			// deviceQuery "143072 MBytes (150021734400 bytes)" = 139.72 GiB.
			TotalBytes:        150021734400,
			SMITotalMiB:       143771,
			ComputeCapability: 90,
		},
		NominalGB: 141,
		Source: "name, CC 9.0, nvidia-smi 143771 MiB, total observed 150021734400 B (driver 550.90.12): " +
			gls + " gls/H200_smi.py, gls/H200_deviceQuery.py",
	},
	{
		Key:     "gh200",
		Aliases: []string{"gh200-96gb", "gh200-480gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA GH200 480GB",
			// deviceQuery "96768 MBytes (101468602368 bytes)" = 94.50 GiB.
			TotalBytes:        101468602368,
			SMITotalMiB:       97871,
			ComputeCapability: 90,
		},
		NominalGB: 96,
		Source: "name, CC 9.0, nvidia-smi 97871 MiB, total observed 101468602368 B (driver 550.127.05): " +
			gls + " gls/GH200_smi.py, gls/GH200_deviceQuery.py; " +
			"nominal 96 GB is the HBM3 of this superchip (\"480GB\" in the name is its CPU memory), inferred from 97871 MiB, not from a datasheet",
	},
	{
		Key:     "b200",
		Aliases: []string{"b200-180gb", "b200-192gb", "hgx-b200"},
		GPU: estimate.GPU{
			Name: "NVIDIA B200",
			// torch total_memory=182631MB (MiB): 182,631 × 1,048,576 = 191,502,483,456 B = 178.35 GiB.
			TotalBytes:        182631 * mib,
			SMITotalMiB:       183359,
			ComputeCapability: 100,
		},
		NominalGB: 180,
		Source: "nvidia-smi 183359 MiB: search-index file ids 9174932594, 69603639138; " +
			"CC 10.0 and total derived: torch \"_CudaDeviceProperties(name='NVIDIA B200', major=10, minor=0, total_memory=182631MB\" " +
			"(search-index file id 25224556183; another capture reads 182642MB, id 2097843420), 182631 MiB × 2^20; " +
			"nominal 180 GB from https://docs.nvidia.com/dgx/dgxb200-user-guide/introduction-to-dgxb200.html (8 × B200 = 1,440 GB); also sold as 192 GB",
	},

	// ---- NVIDIA Ampere data center ----
	{
		Key:     "a100-sxm-80gb",
		Aliases: []string{"a100", "a100-80gb", "a100-80g", "a100-sxm", "a100-sxm4-80gb", "a100-sxm4"},
		GPU: estimate.GPU{
			Name: "NVIDIA A100-SXM4-80GB",
			// deviceQuery "81158 MBytes (85100068864 bytes)" = 79.26 GiB.
			TotalBytes:        85100068864,
			SMITotalMiB:       81920,
			ComputeCapability: 80,
		},
		NominalGB: 80,
		Source: "name, CC 8.0, nvidia-smi 81920 MiB, total observed 85100068864 B (driver 555.42.02): " +
			gls + " gls/A100SXMx4_smi.py, gls/A100SXMx4_deviceQuery.py; vLLM logs on A100 80GB print 79.14-79.33 GiB depending on driver",
	},
	{
		Key:     "a100-sxm-40gb",
		Aliases: []string{"a100-40gb", "a100-40g", "a100-sxm4-40gb", "a100-sxm-40g"},
		GPU: estimate.GPU{
			Name: "NVIDIA A100-SXM4-40GB",
			// 42,505,273,344 B / 1,048,576 = 40,536.19 MiB = 39.59 GiB.
			TotalBytes:        42505273344,
			SMITotalMiB:       40960,
			ComputeCapability: 80,
		},
		NominalGB: 40,
		Source: "nvidia-smi 40960 MiB: search-index file ids 13685072400, 48558165970 (and 8 more); " +
			"total observed 42505273344 B on the A100 40GB (deviceQuery \"39.59 GBytes (42505273344 bytes)\", NVIDIA A100-PCIE-40GB, driver CUDA 11.4, " +
			"search-index file id 36539015630), matching PaddlePaddle's docstring \"_gpuDeviceProperties(name='A100-SXM4-40GB', major=8, minor=0, total_memory=40536MB\" " +
			"(search-index file id 15187234989); newer drivers report less: 42285268992 B (40326 MiB) on " + deac,
	},
	{
		Key:     "a100-pcie-80gb",
		Aliases: []string{"a100-pcie", "a100-pcie-80g", "a100-80gb-pcie"},
		GPU: estimate.GPU{
			Name: "NVIDIA A100 80GB PCIe",
			// deviceQuery "81038 MBytes (84974239744 bytes)" = 79.14 GiB.
			TotalBytes:        84974239744,
			SMITotalMiB:       81920,
			ComputeCapability: 80,
		},
		NominalGB: 80,
		Source: "name, CC 8.0, total observed 84974239744 B: " + deac + "; " +
			"nvidia-smi 81920 MiB: search-index file ids 3846834437, 2450430130 (and 8 more)",
	},
	{
		Key:     "a10g",
		Aliases: []string{"a10g-24gb", "aws-a10g"},
		GPU: estimate.GPU{
			Name: "NVIDIA A10G",
			// torch total_memory=22587MB (MiB): 22,587 × 1,048,576 = 23,684,186,112 B = 22.06 GiB.
			TotalBytes:        22587 * mib,
			SMITotalMiB:       23028,
			ComputeCapability: 86,
		},
		NominalGB: 24,
		Source: "nvidia-smi 23028 MiB: search-index file ids 66527948923, 13155914969 (and 8 more, drivers 535-595); " +
			"CC 8.6 and total derived: TorchCodec docs \"Accelerated video decoding on GPUs with CUDA and NVDEC\", torch 2.15 nightly cu130, " +
			"\"_CudaDeviceProperties(name='NVIDIA A10G', major=8, minor=6, total_memory=22587MB\" (search-index file id 67234836605), 22587 MiB × 2^20; " +
			"older drivers report more (docs/ENGINES.md: 22.20 GiB)",
	},
	{
		Key:     "a10",
		Aliases: []string{"a10-24gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA A10",
			// deviceQuery "22503 MBytes (23595909120 bytes)" = 21.98 GiB.
			TotalBytes:        23595909120,
			SMITotalMiB:       23028,
			ComputeCapability: 86,
		},
		NominalGB: 24,
		Source: "name, CC 8.6, nvidia-smi 23028 MiB, total observed 23595909120 B (driver 550.90.12): " +
			gls + " gls/A10_smi.py, gls/A10_deviceQuery.py",
	},
	{
		Key:     "a40",
		Aliases: []string{"a40-48gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA A40",
			// deviceQuery "45403 MBytes (47608692736 bytes)" = 44.34 GiB (ECC on).
			TotalBytes:        47608692736,
			SMITotalMiB:       46068,
			ComputeCapability: 86,
		},
		NominalGB: 48,
		Source: "name, CC 8.6, nvidia-smi 46068 MiB, total observed 47608692736 B, ECC enabled (driver 550.127.05): " +
			gls + " gls/A40x10_smi.py, gls/A40x10_deviceQuery.py",
	},

	// ---- NVIDIA Ada data center ----
	{
		Key:     "l4",
		Aliases: []string{"l4-24gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA L4",
			// deviceQuery "22478 MBytes (23570219008 bytes)" = 21.95 GiB.
			TotalBytes:        23570219008,
			SMITotalMiB:       23034,
			ComputeCapability: 89,
		},
		NominalGB: 24,
		Source: "name, CC 8.9, nvidia-smi 23034 MiB, total observed 23570219008 B, ECC enabled (driver 550.90.07): " +
			gls + " gls/L4_smi.py, gls/L4_deviceQuery.py",
	},
	{
		Key:     "l40s",
		Aliases: []string{"l40s-48gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA L40S",
			// deviceQuery "45589 MBytes (47803596800 bytes)" = 44.52 GiB (ECC on).
			TotalBytes:        47803596800,
			SMITotalMiB:       46068,
			ComputeCapability: 89,
		},
		NominalGB: 48,
		Source: "name, CC 8.9, nvidia-smi 46068 MiB, total observed 47803596800 B, ECC enabled (driver 550.127.05): " +
			gls + " gls/L40S_smi.py, gls/L40S_deviceQuery.py",
	},
	{
		Key:     "l40",
		Aliases: []string{"l40-48gb"},
		GPU: estimate.GPU{
			Name: "NVIDIA L40",
			// vLLM "total_gpu_memory (44.39GiB)": 44.39 × 1024 = 45,455.36 MiB, rounded to 45,455 MiB = 47,663,022,080 B.
			TotalBytes:        45455 * mib,
			SMITotalMiB:       46068,
			ComputeCapability: 89,
		},
		NominalGB: 48,
		Source: "nvidia-smi 46068 MiB (ECC enabled, driver 580.65.06) and vLLM v0.7.2 \"total_gpu_memory (44.39GiB)\" on the same machine " +
			"(search-index file id 60430572081): total derived 44.39 GiB × 1024 rounded to 45455 MiB (vLLM rounds to 0.01 GiB, so ±5 MiB); " +
			"CC 8.9 from " + ccTable,
	},

	// ---- older NVIDIA data center ----
	{
		Key:     "t4",
		Aliases: []string{"t4-16gb", "tesla-t4"},
		GPU: estimate.GPU{
			Name: "Tesla T4",
			// torch/deviceQuery 15095 MiB: 15,095 × 1,048,576 = 15,828,254,720 B = 14.74 GiB.
			TotalBytes:        15095 * mib,
			SMITotalMiB:       15360,
			ComputeCapability: 75,
		},
		NominalGB: 16,
		Source: "nvidia-smi 15360 MiB, ECC enabled: search-index file ids 5821165965, 19490674574 (and 4 more); " +
			"CC 7.5 and total derived: deviceQuery \"Global Memory | 15095 MBytes\" on Colab, driver 12.4 " +
			"(github.com/sylvia-ymlin/cuda-kernels-from-scratch README.md) and torch total_memory=15095MB (search-index file id 65825155517), 15095 MiB × 2^20; " +
			"other drivers read 14918 MiB (15642329088 B, driver 12.5, id 77589086) to 15110 MiB (15843721216 B, driver 11.2, id 32424744097)",
	},
	{
		Key:     "v100-16gb",
		Aliases: []string{"v100", "v100-16g", "v100-sxm2", "v100-sxm2-16gb"},
		GPU: estimate.GPU{
			Name: "Tesla V100-SXM2-16GB",
			// deviceQuery "16144 MBytes (16928342016 bytes)" = 15.77 GiB.
			TotalBytes:        16928342016,
			SMITotalMiB:       16384,
			ComputeCapability: 70,
		},
		NominalGB: 16,
		Source: "name, CC 7.0, nvidia-smi 16384 MiB, total observed 16928342016 B (driver 550.127.05): " +
			gls + " gls/V100_x8_smi.py, gls/V100_x8_deviceQuery.py",
	},
	{
		Key:     "v100-32gb",
		Aliases: []string{"v100-32g", "v100-sxm2-32gb"},
		GPU: estimate.GPU{
			Name: "Tesla V100-SXM2-32GB",
			// deviceQuery "32494 MBytes (34072559616 bytes)" = 31.73 GiB.
			TotalBytes:        34072559616,
			SMITotalMiB:       32768,
			ComputeCapability: 70,
		},
		NominalGB: 32,
		Source: "nvidia-smi 32768 MiB: search-index file ids 56951918035, 70902377371 (and 8 more); " +
			"name, CC 7.0, total observed: deviceQuery \"32494 MBytes (34072559616 bytes)\", driver CUDA 12.9 (search-index file id 27429801100), " +
			"the same on V100-PCIE-32GB with driver 12.4 (" + deac + "); drivers 11.x read 32510 MiB",
	},

	// ---- NVIDIA workstation / consumer ----
	{
		Key:     "rtx-3090",
		Aliases: []string{"3090", "rtx3090", "geforce-rtx-3090"},
		GPU: estimate.GPU{
			Name: "NVIDIA GeForce RTX 3090",
			// deviceQuery "24154 MBytes (25327697920 bytes)" = 23.59 GiB.
			TotalBytes:        25327697920,
			SMITotalMiB:       24576,
			ComputeCapability: 86,
		},
		NominalGB: 24,
		Source: "name, CC 8.6, nvidia-smi 24576 MiB, total observed 25327697920 B (driver 560.35.03): " +
			gls + " gls/RTX3090_smi.py, gls/RTX3090_deviceQuery.py; vLLM printed 23.58 GiB (testdata/startup_reports_dev.csv row 44)",
	},
	{
		Key:     "rtx-4090",
		Aliases: []string{"4090", "rtx4090", "geforce-rtx-4090"},
		GPU: estimate.GPU{
			Name: "NVIDIA GeForce RTX 4090",
			// deviceQuery "24210 MBytes (25386352640 bytes)" = 23.64 GiB.
			TotalBytes:        25386352640,
			SMITotalMiB:       24564,
			ComputeCapability: 89,
		},
		NominalGB: 24,
		Source: "name, CC 8.9, nvidia-smi 24564 MiB, total observed 25386352640 B (driver 550.127.05): " +
			gls + " gls/RTX4090_smi.py, gls/RTX4090_deviceQuery.py",
	},
	{
		Key:     "rtx-5090",
		Aliases: []string{"5090", "rtx5090", "geforce-rtx-5090"},
		GPU: estimate.GPU{
			Name: "NVIDIA GeForce RTX 5090",
			// deviceQuery "32120 MBytes (33680457728 bytes)" = 31.37 GiB.
			TotalBytes:        33680457728,
			SMITotalMiB:       32607,
			ComputeCapability: 120,
		},
		NominalGB: 32,
		Source: "name, CC 12.0, nvidia-smi 32607 MiB, total observed 33680457728 B (driver 570.124.06): " +
			gls + " gls/RTX5090_smi.py, gls/RTX5090_deviceQuery.py",
	},
	{
		Key:     "rtx-a6000",
		Aliases: []string{"a6000", "rtxa6000"},
		GPU: estimate.GPU{
			Name: "NVIDIA RTX A6000",
			// deviceQuery "48790 MBytes (51160023040 bytes)" = 47.65 GiB (ECC off).
			TotalBytes:        51160023040,
			SMITotalMiB:       49140,
			ComputeCapability: 86,
		},
		NominalGB: 48,
		Source: "ECC off (the common setting): nvidia-smi 49140 MiB, search-index file ids 27734447929, 69652294599 (and 8 more); " +
			"name, CC 8.6, total observed: deviceQuery \"48790 MBytes (51160023040 bytes)\", driver CUDA 12.7 (search-index file id 61452890148); " +
			"torch elsewhere reads 48676 MiB (id 35030005167); with ECC on: 46068 MiB / 47834660864 B, " + gls + " gls/RTX_A6000_x9_smi.py",
	},
	{
		Key:     "rtx-6000-ada",
		Aliases: []string{"6000-ada", "rtx6000-ada", "rtx-6000-ada-generation"},
		GPU: estimate.GPU{
			Name: "NVIDIA RTX 6000 Ada Generation",
			// deviceQuery "48640 MBytes (51002867712 bytes)" = 47.50 GiB (ECC off).
			TotalBytes:        51002867712,
			SMITotalMiB:       49140,
			ComputeCapability: 89,
		},
		NominalGB: 48,
		Source: "name, CC 8.9, nvidia-smi 49140 MiB, total observed 51002867712 B, ECC disabled (driver 550.127.05): " +
			gls + " gls/RTX6000Ada_x8_smi.py, gls/RTX6000Ada_x8_deviceQuery.py",
	},

	// ---- AMD (ROCm) ----
	{
		Key:     "mi300x",
		Aliases: []string{"mi300", "mi300x-192gb"},
		GPU: estimate.GPU{
			Name: "AMD Instinct MI300X",
			// rocm-smi "VRAM Total Memory (B): 206141652992" = 196,592 MiB exactly = 191.98 GiB.
			TotalBytes:        206141652992,
			SMITotalMiB:       196592,
			ComputeCapability: 94,
			ROCm:              true,
		},
		NominalGB: 192,
		Source: "name, gfx942 capability (9, 4) and torch total_memory=196592MB: https://github.com/ROCm/ROCm/issues/4203 (search-index file id 56715879733); " +
			"total observed: rocm-smi \"VRAM Total Memory (B): 206141652992\" (search-index file ids 56769285415, 51838722108), = 196592 MiB × 2^20, " +
			"also HIP \"196592: Total Global Memory (MB)\" in " + gls + " gls/MI300X_deviceQuery.py; SMITotalMiB is rocm-smi's total / 2^20",
	},
	{
		Key:     "mi250x",
		Aliases: []string{"mi250", "mi250x-gcd"},
		GPU: estimate.GPU{
			Name: "AMD Instinct MI250X",
			// rocm-smi "VRAM Total Memory (B): 68702699520" = 65,520 MiB exactly = 63.98 GiB (one GCD).
			TotalBytes:        68702699520,
			SMITotalMiB:       65520,
			ComputeCapability: 90,
			ROCm:              true,
		},
		NominalGB: 64,
		Source: "one GCD (the card is two 64 GB GCDs, each its own device): name, gfx90a capability (9, 0) and torch total_memory=65520MB " +
			"(search-index file id 6974116335); total observed: rocm-smi \"VRAM Total Memory (B): 68702699520\" " +
			"(search-index file ids 69016060398, 6691393520), = 65520 MiB × 2^20; SMITotalMiB is rocm-smi's total / 2^20",
	},
}

// alsoSoldAs lists other nominal sizes a card is marketed under.
var alsoSoldAs = map[string][]float64{
	"b200": {192},
}
