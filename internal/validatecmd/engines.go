package validatecmd

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
	"github.com/vramcalc/vramcalc/nvml"
	"github.com/vramcalc/vramcalc/probe"
)

// engineSpec is what validate says and launches differently per engine:
// the prober, the default image and release, and each engine's own names
// for the limit searched, the prefill and the memory fraction.
type engineSpec struct {
	probe   probe.Engine
	image   string
	version string
	// limit is the flag the search moves (TGI --max-total-tokens, vLLM
	// --max-model-len, SGLang --context-length); prefill and fraction the
	// flags held fixed.
	limit, prefill, fraction string
	// log names where the engine reports its KV pool.
	log string
	// simulator is the directory under cmd/ of its simulator.
	simulator string
}

// engineSpecs are the engines validate drives. The images are each
// engine's own (TGI's GitHub registry, vllm/vllm-openai and
// lmsysorg/sglang on Docker Hub, tagged v<release>); the flag names are
// probe.EngineFlags'.
var engineSpecs = map[string]engineSpec{
	"tgi": newSpec(probe.TGI{}, "ghcr.io/huggingface/text-generation-inference:"+estimate.DefaultTGIVersion, estimate.DefaultTGIVersion,
		"--cuda-memory-fraction", "TGI log", "tgisim"),
	"vllm": newSpec(probe.VLLM{}, "vllm/vllm-openai:v"+estimate.DefaultVLLMVersion, estimate.DefaultVLLMVersion,
		"--gpu-memory-utilization", "vLLM log", "vllmsim"),
	"sglang": newSpec(probe.SGLang{}, "lmsysorg/sglang:v"+estimate.DefaultSGLangVersion, estimate.DefaultSGLangVersion,
		"--mem-fraction-static", "SGLang log", "sglangsim"),
}

func newSpec(e probe.Engine, image, version, fraction, log, simulator string) engineSpec {
	limit, prefill := probe.EngineFlags(e.Name())
	return engineSpec{probe: e, image: image, version: version, limit: limit, prefill: prefill, fraction: fraction, log: log, simulator: simulator}
}

// engineNames are the names --engine takes, in the order --help lists them.
var engineNames = []string{"tgi", "vllm", "sglang"}

// engineOf is --engine's spec; a fraction or prefill flag of another
// engine is refused, so that a value meant for one is never silently
// dropped.
func engineOf(c *cli.Command) (string, engineSpec, error) {
	name := strings.ToLower(c.String("engine"))
	spec, ok := engineSpecs[name]
	if !ok {
		return "", spec, &cmdutil.UsageError{Msg: fmt.Sprintf("--engine %q is not an engine validate drives", c.String("engine")), Hint: "use --engine tgi, vllm or sglang"}
	}
	for _, other := range engineNames {
		o := engineSpecs[other]
		if other == name {
			continue
		}
		for _, f := range []string{o.fraction, o.prefill} {
			if c.IsSet(strings.TrimPrefix(f, "--")) {
				return "", spec, &cmdutil.UsageError{Msg: fmt.Sprintf("%s is %s's flag, not %s's", f, other, name),
					Hint: fmt.Sprintf("with --engine %s use %s and %s", name, spec.fraction, spec.prefill)}
			}
		}
	}
	return name, spec, nil
}

// imageAndVersion are --image and --engine-version, or the engine's defaults.
func (s engineSpec) imageAndVersion(c *cli.Command) (string, string) {
	image, version := c.String("image"), c.String("engine-version")
	if image == "" {
		image = s.image
	}
	if version == "" {
		version = s.version
	}
	return image, version
}

// engineSettings are the estimate's settings from the engine's own
// fraction and prefill flags.
func engineSettings(c *cli.Command, name string) estimate.Settings {
	switch name {
	case "vllm":
		return estimate.Settings{GPUMemoryUtilization: c.Float("gpu-memory-utilization"), MaxNumBatchedTokens: int(c.Int("max-num-batched-tokens"))}
	case "sglang":
		return estimate.Settings{MemFractionStatic: c.Float("mem-fraction-static"), ChunkedPrefillSize: int(c.Int("chunked-prefill-size"))}
	}
	return estimate.Settings{CUDAMemoryFraction: c.Float("cuda-memory-fraction"), MaxBatchPrefillTokens: int(c.Int("max-batch-prefill-tokens"))}
}

// engineFlags are the engine and its per-engine fixed settings.
func engineFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "engine", Value: "tgi", Usage: "engine the image runs: tgi, vllm or sglang (each searched with its own limit flag)"},
		&cli.StringFlag{Name: "image", Usage: "`IMAGE` to launch; default: the engine's own (ghcr.io/huggingface/text-generation-inference:" + estimate.DefaultTGIVersion +
			", vllm/vllm-openai:v" + estimate.DefaultVLLMVersion + ", lmsysorg/sglang:v" + estimate.DefaultSGLangVersion + ")"},
		&cli.StringFlag{Name: "engine-version", Usage: "release the image runs (`VERSION`), for the estimate; default: the default image's"},
		&cli.IntFlag{Name: "max-batch-prefill-tokens", HideDefault: true, Usage: "TGI: fixed prefill for every launch; default: TGI's own for this GPU"},
		&cli.FloatFlag{Name: "cuda-memory-fraction", Value: 1.0, Usage: "TGI --cuda-memory-fraction"},
		&cli.IntFlag{Name: "max-num-batched-tokens", HideDefault: true, Usage: "vLLM: fixed --max-num-batched-tokens for every launch; default: vLLM's own"},
		&cli.FloatFlag{Name: "gpu-memory-utilization", HideDefault: true, Usage: "vLLM --gpu-memory-utilization; default: the release's"},
		&cli.IntFlag{Name: "chunked-prefill-size", HideDefault: true, Usage: "SGLang: fixed --chunked-prefill-size for every launch; default: SGLang's own"},
		&cli.FloatFlag{Name: "mem-fraction-static", HideDefault: true, Usage: "SGLang --mem-fraction-static; default: SGLang's own for this GPU"},
		&cli.StringFlag{Name: "request-image", Usage: "multimodal models: send this image `FILE` (PNG, JPEG, GIF, WebP) with every request, as the engine's API expects (vLLM/SGLang: an image_url part of a chat message; TGI: a markdown image); its tokens come on top of --input-tokens"},
		&cli.StringFlag{Name: "sampler", Value: "nvml", Usage: "where GPU memory is read: nvml (NVIDIA) or amd (amdgpu's mem_info_vram_used in sysfs, for MI300X/MI250X hosts)"},
		&cli.StringFlag{Name: "amd-sysfs", Value: "/sys/class/drm", Usage: "with --sampler amd: the `DIR` holding amdgpu's cardN directories"},
	}
}

// hostSampler is the sampler --sampler names for the host's GPUs (not
// the simulator's): ok false means NVML, which the caller opens.
func hostSampler(c *cli.Command) (nvml.Sampler, bool, error) {
	switch strings.ToLower(c.String("sampler")) {
	case "nvml":
		return nil, false, nil
	case "amd":
		return nvml.AMDSampler{Root: c.String("amd-sysfs")}, true, nil
	}
	return nil, false, &cmdutil.UsageError{Msg: fmt.Sprintf("--sampler %q is not a memory source", c.String("sampler")), Hint: "use --sampler nvml (NVIDIA) or --sampler amd (amdgpu sysfs)"}
}

// requestImage is --request-image as a data: URL ("" without it).
func requestImage(c *cli.Command) (string, error) {
	path := c.String("request-image")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", cmdutil.WithHint(fmt.Errorf("--request-image: %w", err), "give the path of a PNG, JPEG, GIF or WebP file")
	}
	mime := http.DetectContentType(b)
	if !strings.HasPrefix(mime, "image/") {
		return "", cmdutil.WithHint(fmt.Errorf("--request-image %s is %s, not an image", path, mime), "give the path of a PNG, JPEG, GIF or WebP file")
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b), nil
}
