// Package gpus is vramcalc's catalog of GPUs: the name each one reports, the
// memory total its runtime reports, what nvidia-smi shows, its compute
// capability and the size it is sold as.
//
// Use [Lookup] to resolve a --gpu flag ("H100", "a100-80g", "4090",
// "NVIDIA L4", TGI's "nvidia-h100-80gb-hbm3"), [All] to list the catalog,
// and [ParseVRAM] to read a --vram flag ("80GB", "79.19GiB", "81559MiB",
// "85017755648").
//
// # Which total
//
// An engine sizes its KV cache from the total the CUDA runtime reports
// (cudaMemGetInfo, torch.cuda.get_device_properties().total_memory), not
// from the size on the box. That total is less than nvidia-smi's
// memory.total, which is itself less than the marketing size:
//
//	H100 SXM: sold as 80 GB, nvidia-smi 81559 MiB, CUDA 81079 MiB (79.18 GiB)
//
// The gap between nvidia-smi and the runtime is memory the driver reserves
// for itself, about 240–1100 MiB in the NVIDIA entries; every entry has
// TotalBytes ≤ SMITotalMiB × 2^20, and the tests check it. ECC on GDDR cards
// (A10G, A10, L4, L40S, L40, A40, T4) takes a further 1/16 of the memory, so
// these report about 92 % of their nominal size while HBM and ECC-off cards
// report about 98–99 %. The RTX A6000 entry is for ECC off, the usual
// setting (with ECC on it reads 46068 MiB in nvidia-smi).
//
// The runtime total also moves with the driver by up to about 0.2 GiB: an
// H100 SXM reads 81106 MiB on driver 565 and 81079 MiB on a CUDA 13 driver,
// an A100 40GB 40536 MiB on CUDA 11 drivers and 40326 MiB on 12.4. Each
// entry stores one observed capture and its Source names the driver and the
// range seen elsewhere. When the exact card and driver matter, give the
// total the engine printed (vLLM's "total_gpu_memory (X GiB)") to ParseVRAM
// as X GiB.
//
// # Sources
//
// Every number is either observed in a public capture (nvidia-smi,
// deviceQuery, rocm-smi, torch device properties, an engine log) or derived
// from one, and each SKU's Source says which. "derived" entries come from
// torch's total_memory, which prints whole MiB ("81008MB" means 81008 MiB,
// truncated), or from an engine log rounded to 0.01 GiB; the Source gives the
// arithmetic. "search-index file id N" identifies a stored copy of a public
// file whose repository could not be resolved. Compute capabilities come
// from the same captures or from https://developer.nvidia.com/cuda-gpus.
//
// For ROCm devices ComputeCapability is the gfx version as torch reports
// it (MI300X gfx942 → 94, MI250X gfx90a → 90), not an NVIDIA SM version,
// and SMITotalMiB is rocm-smi's "VRAM Total Memory (B)" divided by 2^20.
// An MI250X card is two 64 GB dies, each its own device; its entry is one.
//
// # Nominal sizes
//
// ParseVRAM reads "N" and "N GB" as a card sold as N GB. When several
// catalog cards share that size it assumes one and says so in its note,
// with the range of the others:
//
//	16 GB  → Tesla T4 (the common 16 GB inference card)
//	24 GB  → RTX 3090 (23.59 GiB; docs/ENGINES.md and the startup reports put
//	         24 GB consumer cards at 23.58–23.68 GiB; the ECC-enabled
//	         A10G, A10 and L4 report only ~22 GiB)
//	32 GB  → RTX 5090 (the lower of the 5090 and V100 32GB)
//	48 GB  → L40S (ECC on, 44.52 GiB; ECC-off RTX cards report ~47.6 GiB)
//	80 GB  → H100 SXM (79.18 GiB; the other 80 GB cards report 79.11–79.26)
//	192 GB → MI300X (the B200 is also sold as 192 GB but reports 178.35 GiB)
//
// For a size no catalog card is sold as, the total is N GiB times the median,
// over the catalog, of reported total divided by nominal size (0.9889, from
// the H100 PCIe entry). This is a derived rule, not a measurement.
package gpus
