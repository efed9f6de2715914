package calccmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/vramcalc/vramcalc/estimate"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

const estimateDescription = `Estimates, for one model on one or more identical GPUs, the per-GPU memory the
engine will use and the limits that start.

  vramcalc estimate meta-llama/Llama-3.1-8B-Instruct --gpu L4
  vramcalc estimate Qwen/Qwen2.5-32B --gpu H100 --gpus 2 --max-total-tokens 32768 --max-input-tokens 32000
  vramcalc estimate Qwen/Qwen3-32B --gpu L40S --gpus 2 --engine vllm --max-model-len 16384
  vramcalc estimate ./my-model --vram 24 -o json
  vramcalc estimate meta-llama/Llama-3.1-8B-Instruct --gpu L4 --max-total-tokens 32768 --check   # exit 3 if it would not start

MODEL is a local directory (config.json and *.safetensors), a repo id found in your
Hugging Face cache, the built-in catalog (vramcalc models) or on the Hub.

With no limits, it reports what the engine would choose by itself (TGI v3: the prefill
default from the card's FLOPs and VRAM, max_total_tokens from the KV budget; vLLM: the
model's context and the release's batch defaults for the GPU; SGLang: its memory fraction
for the card) and whether that starts, and the largest limits that start. With limits, it
says whether they start and why not. The boundary is the largest --max-total-tokens (TGI,
with --max-input-tokens = total − 1 unless you give it, and the release's default prefill),
--max-model-len (vLLM) or --context-length (SGLang) that starts; in TGI the startup limit is
the warm-up prefill, not the KV budget.

Each engine's flags keep that engine's own names; another engine's flag is refused with
its equivalent named. Releases modelled: TGI 1.0.0 – 3.3.x (default ` + estimate.DefaultTGIVersion + `), vLLM 0.2.0 –
0.32.x (default ` + estimate.DefaultVLLMVersion + `; 0.8.5-v0 forces the V0 engine), SGLang 0.1.0 – 0.5.x (default
` + estimate.DefaultSGLangVersion + `); another release is refused the same way for every engine, and so is
a release without the model's architecture (naming the first that has it).

--gpu names a card; --vram gives memory alone (--vram 80: a card sold as 80 GB, the
smallest total such cards report; exact memory as --vram 79.19GiB, 81559MiB or
85017755648B) and the card-specific defaults it cannot know are listed as assumptions.`

// engineFlag is one engine-specific flag: the engines that take it, and
// the other engines' flag for the same thing (for the hint when refused).
type engineFlag struct {
	engines []string
	same    map[string]string
}

// engineFlags lists the flags that belong to some engines only.
var engineFlags = map[string]engineFlag{
	"max-input-tokens":             {[]string{"tgi"}, nil},
	"max-total-tokens":             {[]string{"tgi", "sglang"}, map[string]string{"vllm": "--max-model-len"}},
	"max-batch-prefill-tokens":     {[]string{"tgi"}, map[string]string{"vllm": "--max-num-batched-tokens", "sglang": "--chunked-prefill-size"}},
	"max-batch-size":               {[]string{"tgi"}, map[string]string{"vllm": "--max-num-seqs", "sglang": "--max-running-requests"}},
	"cuda-memory-fraction":         {[]string{"tgi"}, map[string]string{"vllm": "--gpu-memory-utilization", "sglang": "--mem-fraction-static"}},
	"num-shard":                    {[]string{"tgi"}, map[string]string{"vllm": "--tensor-parallel-size", "sglang": "--tp-size"}},
	"quantize":                     {[]string{"tgi"}, map[string]string{"vllm": "--quantization", "sglang": "--quantization"}},
	"speculate":                    {[]string{"tgi"}, nil},
	"enable-prefill-logprobs":      {[]string{"tgi"}, nil},
	"quantization":                 {[]string{"vllm", "sglang"}, map[string]string{"tgi": "--quantize"}},
	"tensor-parallel-size":         {[]string{"vllm", "sglang"}, map[string]string{"tgi": "--num-shard"}},
	"gpu-memory-utilization":       {[]string{"vllm"}, map[string]string{"tgi": "--cuda-memory-fraction", "sglang": "--mem-fraction-static"}},
	"max-model-len":                {[]string{"vllm"}, map[string]string{"tgi": "--max-total-tokens", "sglang": "--context-length"}},
	"max-num-batched-tokens":       {[]string{"vllm"}, map[string]string{"tgi": "--max-batch-prefill-tokens", "sglang": "--chunked-prefill-size"}},
	"max-num-seqs":                 {[]string{"vllm"}, map[string]string{"tgi": "--max-batch-size", "sglang": "--max-running-requests"}},
	"block-size":                   {[]string{"vllm"}, map[string]string{"sglang": "--page-size"}},
	"enforce-eager":                {[]string{"vllm"}, nil},
	"mamba-cache-mode":             {[]string{"vllm"}, nil},
	"limit-mm-per-prompt":          {[]string{"vllm"}, nil},
	"sampler":                      {[]string{"vllm"}, nil},
	"model-runner":                 {[]string{"vllm"}, nil},
	"mamba-ssm-cache-dtype":        {[]string{"vllm"}, map[string]string{"sglang": "--mamba-ssm-dtype"}},
	"mamba-ssm-dtype":              {[]string{"sglang"}, map[string]string{"vllm": "--mamba-ssm-cache-dtype"}},
	"llm-class":                    {[]string{"vllm"}, nil},
	"mem-fraction-static":          {[]string{"sglang"}, map[string]string{"tgi": "--cuda-memory-fraction", "vllm": "--gpu-memory-utilization"}},
	"context-length":               {[]string{"sglang"}, map[string]string{"tgi": "--max-total-tokens", "vllm": "--max-model-len"}},
	"tp-size":                      {[]string{"sglang"}, map[string]string{"tgi": "--num-shard", "vllm": "--tensor-parallel-size"}},
	"chunked-prefill-size":         {[]string{"sglang"}, map[string]string{"tgi": "--max-batch-prefill-tokens", "vllm": "--max-num-batched-tokens"}},
	"max-running-requests":         {[]string{"sglang"}, map[string]string{"tgi": "--max-batch-size", "vllm": "--max-num-seqs"}},
	"page-size":                    {[]string{"sglang"}, map[string]string{"vllm": "--block-size"}},
	"speculative-config":           {[]string{"vllm"}, map[string]string{"sglang": "--speculative-algorithm", "tgi": "--speculate"}},
	"speculative-algorithm":        {[]string{"sglang"}, map[string]string{"vllm": "--speculative-config", "tgi": "--speculate"}},
	"speculative-draft-model-path": {[]string{"sglang"}, map[string]string{"vllm": `--speculative-config '{"model": ...}'`}},
	"speculative-num-steps":        {[]string{"sglang"}, nil},
	"speculative-eagle-topk":       {[]string{"sglang"}, nil},
	"speculative-num-draft-tokens": {[]string{"sglang"}, map[string]string{"vllm": `--speculative-config '{"num_speculative_tokens": N}'`}},
}

// Estimate is `vramcalc estimate MODEL`: per-GPU memory and the limits
// that start. vramcalc and vramcalc-serve run this one command, so that
// the page and the API print what the CLI prints.
func Estimate(e cmdutil.Env) *cli.Command {
	flags := append(cmdutil.HardwareFlags(), engineChoiceFlags()...)
	flags = append(flags, tgiFlags()...)
	flags = append(flags, vllmFlags()...)
	flags = append(flags, sglangFlags()...)
	flags = append(flags,
		&cli.IntFlag{Name: "input-tokens", HideDefault: true, Usage: "request input length for the concurrency figure (default: max input tokens)", Category: "workload"},
		&cli.IntFlag{Name: "output-tokens", HideDefault: true, Usage: "request output length for the concurrency figure (default: the rest of max total tokens)", Category: "workload"},
		&cli.StringFlag{Name: "corrections", Usage: "apply fitted corrections from `FILE` (vramcalc calibrate --out; any engine, for the engine they were fitted on)", Category: "engine"},
		&cli.BoolFlag{Name: "check", Usage: "exit with code 3 when the engine would not start with these limits (for scripts and CI gates)"},
		cmdutil.OutputFlag(),
	)
	return &cli.Command{
		Name:        "estimate",
		Usage:       "per-GPU memory and the limits that start, for MODEL on your GPUs",
		ArgsUsage:   "MODEL",
		Description: estimateDescription,
		Flags:       append(flags, cmdutil.ModelFlags()...),
		Action: func(ctx context.Context, c *cli.Command) error {
			return runEstimate(ctx, c, e)
		},
	}
}

func engineChoiceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "engine", Value: "tgi", Usage: "serving engine: tgi, vllm or sglang", Category: "engine"},
		&cli.StringFlag{Name: "engine-version", Usage: "engine release (`VERSION`), e.g. 3.3.7 or 3.3 (latest 3.3.x) for TGI, 0.11.0 for vLLM; default: the newest release vramcalc models", Category: "engine"},
		&cli.StringFlag{Name: "dtype", Usage: "--dtype (all engines): float16 or bfloat16 (same size)", Category: "engine"},
		&cli.StringFlag{Name: "kv-cache-dtype", Usage: "--kv-cache-dtype: fp8 (fp8_e4m3, fp8_e4m3fn), fp8_e5m2 (all engines); fp8_inc, int8_per_token_head, fp8_per_token_head, int4_per_token_head, nvfp4 (vLLM); nvfp4, fp4_mx_block16, mxfp8 (SGLang)", Category: "engine"},
	}
}

func tgiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "max-input-tokens", HideDefault: true, Usage: "TGI --max-input-tokens (MAX_INPUT_TOKENS); unset: TGI's default", Category: "TGI"},
		&cli.IntFlag{Name: "max-total-tokens", HideDefault: true, Usage: "TGI --max-total-tokens (MAX_TOTAL_TOKENS); with --engine sglang, SGLang's own --max-total-tokens (a cap on the KV pool)", Category: "TGI"},
		&cli.IntFlag{Name: "max-batch-prefill-tokens", HideDefault: true, Usage: "TGI --max-batch-prefill-tokens (MAX_BATCH_PREFILL_TOKENS)", Category: "TGI"},
		&cli.IntFlag{Name: "max-batch-size", HideDefault: true, Usage: "TGI --max-batch-size", Category: "TGI"},
		&cli.FloatFlag{Name: "cuda-memory-fraction", HideDefault: true, Usage: "TGI --cuda-memory-fraction (CUDA_MEMORY_FRACTION); default 1.0", Category: "TGI"},
		&cli.IntFlag{Name: "num-shard", HideDefault: true, Usage: "TGI --num-shard; default: --gpus", Category: "TGI"},
		&cli.StringFlag{Name: "quantize", Usage: "TGI --quantize: fp8, eetq, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, awq, gptq, marlin, exl2, compressed-tensors", Category: "TGI"},
		&cli.IntFlag{Name: "speculate", HideDefault: true, Usage: "TGI --speculate (tokens reserved per request)", Category: "TGI"},
		&cli.BoolFlag{Name: "enable-prefill-logprobs", Usage: "TGI --enable-prefill-logprobs (v3: logits over every prefill token)", Category: "TGI"},
	}
}

func vllmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.FloatFlag{Name: "gpu-memory-utilization", HideDefault: true, Usage: "vLLM --gpu-memory-utilization; default: the release's (0.9, 0.92 from v0.20)", Category: "vLLM"},
		&cli.IntFlag{Name: "max-model-len", HideDefault: true, Usage: "vLLM --max-model-len; default: the model's max_position_embeddings", Category: "vLLM"},
		&cli.IntFlag{Name: "max-num-batched-tokens", HideDefault: true, Usage: "vLLM --max-num-batched-tokens; default: the release's for the GPU", Category: "vLLM"},
		&cli.IntFlag{Name: "max-num-seqs", HideDefault: true, Usage: "vLLM --max-num-seqs", Category: "vLLM"},
		&cli.IntFlag{Name: "block-size", HideDefault: true, Usage: "vLLM --block-size", Category: "vLLM"},
		&cli.IntFlag{Name: "tensor-parallel-size", Aliases: []string{"tp"}, HideDefault: true, Usage: "vLLM and SGLang --tensor-parallel-size; default: --gpus", Category: "vLLM"},
		&cli.StringFlag{Name: "quantization", Aliases: []string{"q"}, Usage: "vLLM and SGLang -q/--quantization, e.g. fp8", Category: "vLLM"},
		&cli.BoolFlag{Name: "enforce-eager", Usage: "vLLM --enforce-eager (no CUDA graphs)", Category: "vLLM"},
		&cli.StringFlag{Name: "sampler", Usage: "the top-k/top-p path of vLLM's profile run: flashinfer (VLLM_USE_FLASHINFER_SAMPLER=1 with FlashInfer installed) or pytorch (the native path); default: the release's for its official image, stated as an assumption", Category: "vLLM"},
		&cli.StringFlag{Name: "model-runner", Usage: "vLLM's model runner, as VLLM_USE_V2_MODEL_RUNNER sets it: v1 (=0), v2 (=1) or auto (the release's rule: Model Runner V2 for more models from v0.22, every model from v0.29; docs/VLLM-MRV2.md)", Category: "vLLM"},
		&cli.StringFlag{Name: "limit-mm-per-prompt", Usage: "vLLM --limit-mm-per-prompt, as JSON ('{\"image\": 0}') or image=0,video=0; every modality 0 skips the encoder's profiling (text only); otherwise the encoder's profiling is not modelled and the estimate says so", Category: "vLLM"},
		&cli.StringFlag{Name: "mamba-cache-mode", Usage: "vLLM --mamba-cache-mode for models with state layers: none (one state block per running request and state group) or align (two; prefix caching); default: the release's", Category: "vLLM"},
		&cli.StringFlag{Name: "mamba-ssm-cache-dtype", Usage: "vLLM --mamba-ssm-cache-dtype: the recurrent state's dtype (float32, bfloat16, float16); default: the model's (float32 for Nemotron-H, the config's mamba_ssm_dtype for Qwen3.5); ignored for Kimi-Linear (float32 always) and MiniMax-Text-01/M1 (the model dtype)", Category: "vLLM"},
		&cli.BoolFlag{Name: "llm-class", Usage: "use the defaults of vLLM's offline LLM class instead of `vllm serve`", Category: "vLLM"},
		vllmSpecFlag(),
	}
}

func sglangFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.FloatFlag{Name: "mem-fraction-static", HideDefault: true, Usage: "SGLang --mem-fraction-static; default: SGLang's for the GPU and TP", Category: "SGLang"},
		&cli.IntFlag{Name: "context-length", HideDefault: true, Usage: "SGLang --context-length; default: the model's", Category: "SGLang"},
		&cli.IntFlag{Name: "tp-size", HideDefault: true, Usage: "SGLang --tp-size (also --tensor-parallel-size); default: --gpus", Category: "SGLang"},
		&cli.IntFlag{Name: "chunked-prefill-size", HideDefault: true, Usage: "SGLang --chunked-prefill-size", Category: "SGLang"},
		&cli.IntFlag{Name: "max-running-requests", HideDefault: true, Usage: "SGLang --max-running-requests", Category: "SGLang"},
		&cli.IntFlag{Name: "page-size", HideDefault: true, Usage: "SGLang --page-size", Category: "SGLang"},
		&cli.StringFlag{Name: "mamba-ssm-dtype", Usage: "SGLang --mamba-ssm-dtype: the recurrent state's dtype (float32, bfloat16, float16); default: the config's mamba_ssm_dtype, else float32", Category: "SGLang"},
	}, sglangSpecFlags()...)
}

// estimateOptions is what the estimate command gathered from its flags.
type estimateOptions struct {
	model    string
	hw       cmdutil.Hardware
	engine   estimate.Engine
	settings estimate.Settings
	output   string
	// notes are warnings the options add to the estimate's (corrections fitted elsewhere).
	notes []string
	// spec is the speculative decoding asked for, its draft not yet resolved.
	spec specRequest
	// limitMM is vLLM's --limit-mm-per-prompt as given, for the launch line.
	limitMM string
}

func runEstimate(ctx context.Context, c *cli.Command, e cmdutil.Env) error {
	opts, err := estimateOptionsFrom(c)
	if err != nil {
		return err
	}
	meta, err := cmdutil.ResolveModel(ctx, c, e, opts.model)
	if err != nil {
		return err
	}
	if opts.settings.Spec, err = opts.spec.resolve(ctx, c, e, opts.model, meta.Model); err != nil {
		return err
	}
	res, err := estimate.Run(meta.Model, opts.hw.Hardware, opts.engine, opts.settings)
	if err != nil {
		return fmt.Errorf("estimate %s: %w", opts.model, err)
	}
	res.Warnings = append(res.Warnings, opts.notes...)
	if opts.settings.Spec.Method == "mtp" {
		meta.Warnings = mtpWarnings(meta.Warnings)
	}
	res.Assumptions = append(res.Assumptions, opts.hw.Assumptions...)
	rep := newReport(opts, meta, res, cmdutil.HubCacheWord(e.Getenv))
	if err := render(e.Stdout, opts.output, rep); err != nil {
		return err
	}
	if c.Bool("check") && !res.Startup.Fits {
		return &cmdutil.CheckError{Msg: fmt.Sprintf("%s would not start with these limits: %s", rep.engineTitle(), res.Startup.Failure)}
	}
	return nil
}

func estimateOptionsFrom(c *cli.Command) (estimateOptions, error) {
	var o estimateOptions
	if c.NArg() != 1 {
		return o, cmdutil.Usage("vramcalc estimate meta-llama/Llama-3.1-8B-Instruct --gpu L4", "estimate takes one MODEL argument, got %d", c.NArg())
	}
	o.model, o.limitMM = c.Args().First(), c.String("limit-mm-per-prompt")
	var err error
	if o.output, err = cmdutil.Format(c); err != nil {
		return o, err
	}
	if o.hw, err = cmdutil.HardwareFrom(c); err != nil {
		return o, err
	}
	info, err := estimate.LookupEngine(c.String("engine"))
	if err != nil {
		return o, cmdutil.Usage("use --engine tgi, vllm or sglang", "unknown engine %q", c.String("engine"))
	}
	o.engine = estimate.Engine{Name: info.Name, Version: c.String("engine-version")}
	set := setFlags(c)
	if err := checkEngineFlags(set, info); err != nil {
		return o, err
	}
	if err := checkExplicitZeros(set); err != nil {
		return o, err
	}
	if o.settings, err = settingsFrom(c, set, info.Name); err != nil {
		return o, err
	}
	if o.spec, err = specFrom(set, o.model); err != nil {
		return o, err
	}
	if path := c.String("corrections"); path != "" {
		corr, notes, err := cmdutil.LoadCorrections(path, o.engine, o.hw.Hardware)
		if err != nil {
			return o, err
		}
		o.settings.Corrections, o.notes = &corr, notes
	}
	return o, nil
}

// settingsFrom maps the engine's flags to estimate.Settings; a flag two
// engines share by name (--max-total-tokens) means the chosen engine's own.
func settingsFrom(c *cli.Command, set map[string]any, engine string) (estimate.Settings, error) {
	i := func(name string) int { v, _ := set[name].(int); return v }
	f := func(name string) float64 { v, _ := set[name].(float64); return v }
	str := func(name string) string { v, _ := set[name].(string); return v }
	b := func(name string) bool { v, _ := set[name].(bool); return v }
	s := estimate.Settings{
		MaxInputTokens:        i("max-input-tokens"),
		MaxBatchPrefillTokens: i("max-batch-prefill-tokens"),
		MaxBatchSize:          i("max-batch-size"),
		CUDAMemoryFraction:    f("cuda-memory-fraction"),
		NumShard:              i("num-shard") + i("tensor-parallel-size") + i("tp-size"),
		Quantize:              str("quantize") + str("quantization"),
		Speculate:             i("speculate"),
		PrefillLogprobs:       b("enable-prefill-logprobs"),
		GPUMemoryUtilization:  f("gpu-memory-utilization"),
		MaxModelLen:           i("max-model-len") + i("context-length"),
		MaxNumBatchedTokens:   i("max-num-batched-tokens"),
		MaxNumSeqs:            i("max-num-seqs") + i("max-running-requests"),
		BlockSize:             i("block-size") + i("page-size"),
		EnforceEager:          b("enforce-eager"),
		Sampler:               str("sampler"),
		OfflineLLM:            b("llm-class"),
		MemFractionStatic:     f("mem-fraction-static"),
		ChunkedPrefillSize:    i("chunked-prefill-size"),
		RequestInputTokens:    i("input-tokens"),
		RequestOutputTokens:   i("output-tokens"),
	}
	if engine == "sglang" {
		s.SGLangMaxTotalTokens = i("max-total-tokens")
	} else {
		s.MaxTotalTokens = i("max-total-tokens")
	}
	if _, tp := set["tp-size"]; tp {
		if _, tps := set["tensor-parallel-size"]; tps {
			return s, cmdutil.Usage("give the tensor-parallel degree once", "--tp-size and --tensor-parallel-size are the same SGLang flag")
		}
	}
	var err error
	if s.DType, err = estimate.ParseDType(str("dtype")); err != nil {
		return s, fmt.Errorf("--dtype: %w", err)
	}
	if s.KVCacheDType, err = estimate.ParseKVCacheDType(str("kv-cache-dtype")); err != nil {
		return s, fmt.Errorf("--kv-cache-dtype: %w", err)
	}
	if s.MambaSSMDType, err = estimate.ParseDType(str("mamba-ssm-cache-dtype") + str("mamba-ssm-dtype")); err != nil {
		return s, fmt.Errorf("--mamba-ssm-cache-dtype / --mamba-ssm-dtype: %w", err)
	}
	return s, vllmSettings(&s, str)
}

// vllmSettings reads the vLLM-only flags that need parsing.
func vllmSettings(s *estimate.Settings, str func(string) string) error {
	var err error
	if s.ModelRunner, err = estimate.ParseModelRunner(str("model-runner")); err != nil {
		return cmdutil.WithHint(fmt.Errorf("--model-runner: %w", err), "v1 and v2 are VLLM_USE_V2_MODEL_RUNNER=0 and =1; auto lets the release choose")
	}
	if v := str("limit-mm-per-prompt"); v != "" {
		if s.TextOnly, s.NoVideo, err = textOnly(v); err != nil {
			return err
		}
	}
	switch s.MambaCacheMode = str("mamba-cache-mode"); s.MambaCacheMode {
	case "", "none", "align":
	default:
		return cmdutil.Usage("vramcalc models --mamba-cache-mode none and align", "--mamba-cache-mode %q is not modelled (\"all\" keeps a state block per block of context)", s.MambaCacheMode)
	}
	return nil
}

// setFlags are the flags given on the command line, with their values:
// one pass over the definitions (urfave/cli looks a name up linearly).
func setFlags(c *cli.Command) map[string]any {
	set := map[string]any{}
	for _, f := range c.Flags {
		if f.IsSet() {
			if g, ok := f.(interface{ Get() any }); ok {
				set[f.Names()[0]] = g.Get()
			}
		}
	}
	return set
}

// checkExplicitZeros refuses a limit given as 0 (or below), which the
// estimate would read as "not given"; ranges are checked by estimate, once.
func checkExplicitZeros(set map[string]any) error {
	for f, v := range set {
		switch v := v.(type) {
		case int:
			if v == 0 && f != "speculate" {
				return cmdutil.WithHint(fmt.Errorf("--%s must be > 0 (got 0)", f), "leave it out to get the engine's default")
			}
		case float64:
			if v == 0 {
				return cmdutil.WithHint(fmt.Errorf("--%s must be in (0, 1] (got 0)", f), "it is the fraction of each GPU's memory the engine may use; leave it out for the engine's default")
			}
		}
	}
	return nil
}

// checkEngineFlags refuses another engine's flags, naming the equivalent.
func checkEngineFlags(set map[string]any, engine estimate.EngineInfo) error {
	for name := range set {
		f, ok := engineFlags[name]
		if !ok || contains(f.engines, engine.Name) {
			continue
		}
		owner, _ := estimate.LookupEngine(f.engines[0])
		hint := fmt.Sprintf("drop it, or use --engine %s", owner.Name)
		if eq := f.same[engine.Name]; eq != "" {
			hint = fmt.Sprintf("with --engine %s use %s", engine.Name, eq)
		}
		return cmdutil.Usage(hint, "--%s is a %s flag, not %s's", name, titles(f.engines), engine.Title)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// titles is "TGI", or "vLLM and SGLang".
func titles(engines []string) string {
	var ts []string
	for _, n := range engines {
		info, _ := estimate.LookupEngine(n)
		ts = append(ts, info.Title)
	}
	return strings.Join(ts, " and ")
}

// textOnly reads --limit-mm-per-prompt ('{"image": 0, "video": 0}' or
// image=0,video=0): all is true when image's limit and every other one
// given are 0, video when video's is (the estimate decides whether the
// model has other modalities). vLLM also accepts per-modality objects
// ({"image": {"count": 2, ...}}); their count is what is read.
func textOnly(v string) (all, video bool, err error) {
	limits := map[string]any{}
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		if err := json.Unmarshal([]byte(v), &limits); err != nil {
			return false, false, cmdutil.Usage(`give JSON such as '{"image": 0}' or image=0,video=0`, "--limit-mm-per-prompt %q: %v", v, err)
		}
	} else {
		for _, kv := range strings.Split(v, ",") {
			k, n, ok := strings.Cut(kv, "=")
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if !ok || err != nil || strings.TrimSpace(k) == "" {
				return false, false, cmdutil.Usage(`give JSON such as '{"image": 0}' or image=0,video=0`, "--limit-mm-per-prompt %q: want modality=count pairs", v)
			}
			limits[strings.TrimSpace(k)] = f
		}
	}
	_, all = limits["image"]
	for name, l := range limits {
		if obj, ok := l.(map[string]any); ok {
			l = obj["count"]
		}
		zero := false
		if n, ok := l.(float64); ok && n == 0 {
			zero = true
		}
		all = all && zero
		video = video || (name == "video" && zero)
	}
	return all, video, nil
}
