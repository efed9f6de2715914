package validatecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/probe"
)

// TestValidateEngines: --engine picks the prober, the engine's own image
// and release, and its own fraction and prefill flags; another engine's
// flag is refused with the right ones named.
func TestValidateEngines(t *testing.T) {
	for _, c := range []struct {
		args            []string
		engine, image   string
		version         string
		fraction        float64
		prefill, fixedP int
	}{
		{nil, "tgi", "ghcr.io/huggingface/text-generation-inference:" + estimate.DefaultTGIVersion, estimate.DefaultTGIVersion, 1, 0, 0},
		{[]string{"--engine", "vllm", "--gpu-memory-utilization", "0.85", "--max-num-batched-tokens", "4096"},
			"vllm", "vllm/vllm-openai:v" + estimate.DefaultVLLMVersion, estimate.DefaultVLLMVersion, 0.85, 4096, 0},
		{[]string{"--engine", "sglang", "--mem-fraction-static", "0.8", "--chunked-prefill-size", "2048", "--image", "x/sglangsim:t", "--engine-version", "0.5.18"},
			"sglang", "x/sglangsim:t", "0.5.18", 0.8, 0, 2048},
	} {
		v, err := validationFor(t, append([]string{"--gpu-ids", "none"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		s := v.Settings
		frac := map[string]float64{"tgi": s.CUDAMemoryFraction, "vllm": s.GPUMemoryUtilization, "sglang": s.MemFractionStatic}[c.engine]
		if v.Launch.Engine.Name() != c.engine || v.Launch.Image != c.image || v.EngineVersion != c.version || frac != c.fraction ||
			s.MaxNumBatchedTokens != c.prefill || s.ChunkedPrefillSize != c.fixedP {
			t.Errorf("%v: engine %s image %s version %s settings %+v", c.args, v.Launch.Engine.Name(), v.Launch.Image, v.EngineVersion, s)
		}
	}
	for args, want := range map[string]string{
		"--gpu-memory-utilization 0.8":                     "--gpu-memory-utilization is vllm's flag, not tgi's",
		"--engine vllm --max-batch-prefill-tokens 4096":    "--max-batch-prefill-tokens is tgi's flag, not vllm's",
		"--engine sglang --max-num-batched-tokens 4096":    "--max-num-batched-tokens is vllm's flag, not sglang's",
		"--engine trtllm":                                  `--engine "trtllm" is not an engine validate drives`,
		"--engine vllm --output-tokens 0":                  "--output-tokens must be in 1..1024, got 0",
		"--engine vllm --gpu-ids 0 --sampler rocm-smi-ish": `--sampler "rocm-smi-ish" is not a memory source`,
	} {
		_, err := validationFor(t, append([]string{"--gpu-ids", "none"}, strings.Fields(args)...)...)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
		if err != nil && cmdutil.Hint(err) == "" {
			t.Errorf("%s: no hint", args)
		}
	}
	// vLLM generates past TGI's 1024-token chunks.
	if _, err := validationFor(t, "--gpu-ids", "none", "--engine", "vllm", "--output-tokens", "2048"); err != nil {
		t.Errorf("vllm --output-tokens 2048: %v", err)
	}
	if specs := engineSpecs["vllm"]; specs.probe != (probe.VLLM{}) || specs.limit != "--max-model-len" {
		t.Errorf("vllm spec %+v", specs)
	}
}

// TestValidateAMDSampler: --sampler amd reads the GPUs from amdgpu's
// sysfs files (here a fake tree with an MI300X of 192 GiB, 12 GiB used).
func TestValidateAMDSampler(t *testing.T) {
	root := t.TempDir()
	for rel, body := range map[string]string{
		"card1/device/mem_info_vram_total": "206158430208\n",
		"card1/device/mem_info_vram_used":  "12884901888\n",
		"card1/device/product_name":        "AMD Instinct MI300X\n",
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := validationFor(t, "--engine", "vllm", "--gpu-ids", "0", "--sampler", "amd", "--amd-sysfs", root)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := v.Launch.Sampler.(nvml.AMDSampler)
	if !ok || s.Root != root {
		t.Fatalf("sampler %#v", v.Launch.Sampler)
	}
	m, err := s.Sample(t.Context(), 0)
	if err != nil || m.Used != 12_884_901_888 {
		t.Errorf("sample %+v, %v", m, err)
	}
}

// TestValidateRequestImage: --request-image becomes a data: URL every
// request carries (a 1×1 PNG: image/png); a file that is not an image is
// refused with a hint.
func TestValidateRequestImage(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "p.png")
	// The 8-byte PNG signature and an IHDR chunk's start: enough for content sniffing.
	if err := os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := validationFor(t, "--gpu-ids", "none", "--engine", "vllm", "--request-image", png)
	if err != nil || v.Launch.Requests.Image != "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==" {
		t.Errorf("image %q, %v", v.Launch.Requests.Image, err)
	}
	txt := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(txt, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := validationFor(t, "--gpu-ids", "none", "--request-image", txt); err == nil || !strings.Contains(err.Error(), "not an image") || cmdutil.Hint(err) == "" {
		t.Errorf("a text file: %v", err)
	}
}
