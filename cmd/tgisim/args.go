package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The launcher's command line, parsed the way clap parses TGI's Args
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L580-L900):
// every field has a --long flag and, unless noted, an environment variable
// named after the field in upper case; the flag wins over the variable.

// argKind is how clap reads one argument's value.
type argKind int

const (
	kindString   argKind = iota
	kindUint             // usize/u32/u64
	kindU16              // the ports
	kindFloat            // f32
	kindEnum             // ValueEnum
	kindBool             // a flag without value (SetTrue), env true/false
	kindOptBool          // Option<bool>: takes a value
	kindList             // Vec<String> (repeatable)
	kindUintList         // Vec<usize>, comma-delimited
)

// argSpec is one field of TGI's Args.
type argSpec struct {
	field  string // snake_case field name
	kind   argKind
	short  byte
	def    string // clap default_value, "" for none
	values []string
	noEnv  bool
}

// launcherArgs lists v3.3.7's Args in declaration order.
var launcherArgs = []argSpec{
	{field: "model_id", def: "bigscience/bloom-560m"},
	{field: "revision"},
	{field: "validation_workers", kind: kindUint, def: "2"},
	{field: "sharded", kind: kindOptBool},
	{field: "num_shard", kind: kindUint},
	{field: "quantize", kind: kindEnum, values: []string{"awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"}},
	{field: "speculate", kind: kindUint},
	{field: "dtype", kind: kindEnum, values: []string{"float16", "bfloat16"}},
	{field: "kv_cache_dtype", kind: kindEnum, values: []string{"fp8_e4m3fn", "fp8_e5m2"}},
	{field: "trust_remote_code", kind: kindBool},
	{field: "max_concurrent_requests", kind: kindUint, def: "128"},
	{field: "max_best_of", kind: kindUint, def: "2"},
	{field: "max_stop_sequences", kind: kindUint, def: "4"},
	{field: "max_top_n_tokens", kind: kindUint, def: "5"},
	{field: "max_input_tokens", kind: kindUint},
	{field: "max_input_length", kind: kindUint},
	{field: "max_total_tokens", kind: kindUint},
	{field: "waiting_served_ratio", kind: kindFloat, def: "0.3"},
	{field: "max_batch_prefill_tokens", kind: kindUint},
	{field: "max_batch_total_tokens", kind: kindUint},
	{field: "max_waiting_tokens", kind: kindUint, def: "20"},
	{field: "max_batch_size", kind: kindUint},
	{field: "cuda_graphs", kind: kindUintList},
	{field: "hostname", def: "0.0.0.0"},
	{field: "port", kind: kindU16, short: 'p', def: "3000"},
	{field: "prometheus_port", kind: kindU16, def: "9000"},
	{field: "shard_uds_path", def: "/tmp/text-generation-server"},
	{field: "master_addr", def: "localhost"},
	{field: "master_port", kind: kindUint, def: "29500"},
	{field: "huggingface_hub_cache"},
	{field: "weights_cache_override"},
	{field: "disable_custom_kernels", kind: kindBool},
	{field: "cuda_memory_fraction", kind: kindFloat, def: "1.0"},
	{field: "rope_scaling", kind: kindEnum, values: []string{"linear", "dynamic"}},
	{field: "rope_factor", kind: kindFloat},
	{field: "json_output", kind: kindBool},
	{field: "otlp_endpoint"},
	{field: "otlp_service_name", def: "text-generation-inference.router"},
	{field: "cors_allow_origin", kind: kindList},
	{field: "api_key"},
	{field: "watermark_gamma", kind: kindFloat},
	{field: "watermark_delta", kind: kindFloat},
	{field: "ngrok", kind: kindBool},
	{field: "ngrok_authtoken"},
	{field: "ngrok_edge"},
	{field: "tokenizer_config_path"},
	{field: "disable_grammar_support", kind: kindBool},
	{field: "env", kind: kindBool, short: 'e', noEnv: true},
	{field: "max_client_batch_size", kind: kindUint, def: "4"},
	{field: "lora_adapters"},
	{field: "usage_stats", kind: kindEnum, def: "on", values: []string{"on", "off", "no-stack"}},
	{field: "payload_limit", kind: kindUint, def: "2000000"},
	{field: "enable_prefill_logprobs", kind: kindBool},
	{field: "graceful_termination_timeout", kind: kindUint, short: 'g', def: "90"},
}

func (a argSpec) long() string { return "--" + strings.ReplaceAll(a.field, "_", "-") }
func (a argSpec) envName() string {
	return strings.ToUpper(a.field)
}

// display is how clap names the argument in errors: `--max-input-tokens <MAX_INPUT_TOKENS>`.
func (a argSpec) display() string {
	if a.kind == kindBool {
		return a.long()
	}
	return a.long() + " <" + strings.ToUpper(a.field) + ">"
}

// Args holds the launcher arguments the simulator acts on; the others are
// parsed and validated but only echoed in the Args log line.
type Args struct {
	ModelID               string
	Revision              string
	ValidationWorkers     int
	Sharded               *bool
	NumShard              *int
	Quantize              string
	Speculate             *int
	DType                 string
	KVCacheDType          string
	MaxConcurrentRequests int
	MaxBestOf             int
	MaxStopSequences      int
	MaxTopNTokens         int
	MaxInputTokens        *int
	MaxInputLength        *int
	MaxTotalTokens        *int
	MaxBatchPrefillTokens *int
	MaxBatchTotalTokens   *int
	MaxBatchSize          *int
	CUDAGraphs            []int // nil: not given
	Hostname              string
	Port                  int
	HubCache              string
	CUDAMemoryFraction    float64
	Ngrok                 bool
	NgrokAuthtoken        string
	NgrokEdge             string
	LoraAdapters          string
	MaxClientBatchSize    int
	PayloadLimit          int
	EnablePrefillLogprobs bool
	GracefulTimeout       int

	// raw keeps every resolved value by field for the Args log line.
	raw map[string]string
	set map[string]bool
}

// usageError is a clap parse error: printed as is to stderr, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// helpRequest is --help or --version: printed to stdout, exit code 0.
type helpRequest struct{ text string }

func (e *helpRequest) Error() string { return e.text }

const clapUsage = "\n\nUsage: text-generation-launcher [OPTIONS]\n\nFor more information, try '--help'.\n"
const clapMore = "\n\nFor more information, try '--help'.\n"

// parseArgs parses argv (without the program name) and falls back on the
// environment, as clap's `env` attribute does.
func parseArgs(argv []string, getenv func(string) string) (*Args, error) {
	given, err := scanArgv(argv)
	if err != nil {
		return nil, err
	}
	a := &Args{raw: map[string]string{}, set: map[string]bool{}}
	for i := range launcherArgs {
		spec := &launcherArgs[i]
		vals, set := spec.resolve(given, getenv)
		if vals == nil {
			continue
		}
		if set {
			a.set[spec.field] = true
		}
		for _, v := range vals {
			if err := checkValue(spec, v); err != nil {
				return nil, err
			}
		}
		a.raw[spec.field] = strings.Join(vals, ",")
	}
	a.fill()
	return a, nil
}

// scanArgv collects the command line's values by field, with clap's errors
// for an unknown, repeated or valueless argument; --help and --version stop
// it with a helpRequest.
func scanArgv(argv []string) (map[string][]string, error) {
	byLong, byShort := indexLauncherArgs()
	given := map[string][]string{}
	for i := 0; i < len(argv); i++ {
		spec, value, hasValue, err := matchArg(argv[i], byLong, byShort)
		if err != nil {
			return nil, err
		}
		if spec.kind == kindBool {
			if hasValue {
				return nil, &usageError{fmt.Sprintf("error: unexpected value '%s' for '%s' found; no more were expected%s", value, spec.long(), clapUsage)}
			}
			value = "true"
		} else if !hasValue {
			if i+1 >= len(argv) || (strings.HasPrefix(argv[i+1], "-") && len(argv[i+1]) > 1) {
				return nil, &usageError{fmt.Sprintf("error: a value is required for '%s' but none was supplied%s", spec.display(), clapMore)}
			}
			i++
			value = argv[i]
		}
		if len(given[spec.field]) > 0 && spec.kind != kindList {
			return nil, &usageError{fmt.Sprintf("error: the argument '%s' cannot be used multiple times%s", spec.display(), clapUsage)}
		}
		given[spec.field] = append(given[spec.field], value)
	}
	return given, nil
}

// indexLauncherArgs maps --long and -s names to their argument.
func indexLauncherArgs() (byLong map[string]*argSpec, byShort map[byte]*argSpec) {
	byLong, byShort = map[string]*argSpec{}, map[byte]*argSpec{}
	for i := range launcherArgs {
		a := &launcherArgs[i]
		byLong[a.long()] = a
		if a.short != 0 {
			byShort[a.short] = a
		}
	}
	return byLong, byShort
}

// matchArg names the argument tok is, with the value it carries itself
// (--name=value, -pVALUE, -p=VALUE).
func matchArg(tok string, byLong map[string]*argSpec, byShort map[byte]*argSpec) (spec *argSpec, value string, hasValue bool, err error) {
	switch {
	case tok == "--help" || tok == "-h":
		return nil, "", false, &helpRequest{text: helpText()}
	case tok == "--version" || tok == "-V":
		return nil, "", false, &helpRequest{text: "text-generation-launcher " + simVersion + "\n"}
	case strings.HasPrefix(tok, "--"):
		name := tok
		if eq := strings.IndexByte(tok, '='); eq >= 0 {
			name, value, hasValue = tok[:eq], tok[eq+1:], true
		}
		if spec = byLong[name]; spec == nil {
			return nil, "", false, &usageError{fmt.Sprintf("error: unexpected argument '%s' found%s", name, clapUsage)}
		}
	case strings.HasPrefix(tok, "-") && len(tok) >= 2:
		if spec = byShort[tok[1]]; spec == nil {
			return nil, "", false, &usageError{fmt.Sprintf("error: unexpected argument '%s' found%s", tok[:2], clapUsage)}
		}
		if len(tok) > 2 {
			value, hasValue = strings.TrimPrefix(tok[2:], "="), true
		}
	default:
		return nil, "", false, &usageError{fmt.Sprintf("error: unexpected argument '%s' found%s", tok, clapUsage)}
	}
	return spec, value, hasValue, nil
}

// resolve is the argument's values: the command line's, else its
// environment variable's (a false bool variable leaves it unset), else its
// default; nil when it has none. set is true unless they are the default.
func (a argSpec) resolve(given map[string][]string, getenv func(string) string) (vals []string, set bool) {
	if vs, ok := given[a.field]; ok {
		return vs, true
	}
	if !a.noEnv {
		if v, found := lookupEnv(getenv, a.envName()); found {
			if a.kind == kindBool {
				if !truthy(v) {
					return nil, false
				}
				v = "true"
			}
			return []string{v}, true
		}
	}
	if a.def == "" {
		return nil, false
	}
	return []string{a.def}, false
}

// lookupEnv treats an empty variable as unset, like clap.
func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off", "n", "f":
		return false
	}
	return true
}

// checkValue reports clap's "invalid value" error for v.
func checkValue(spec *argSpec, v string) error {
	bad := func(reason string) error {
		return &usageError{fmt.Sprintf("error: invalid value '%s' for '%s': %s%s", v, spec.display(), reason, clapMore)}
	}
	switch spec.kind {
	case kindUint:
		if _, err := parseRustUint(v, 64); err != nil {
			return bad(err.Error())
		}
	case kindU16:
		n, err := parseRustUint(v, 64)
		if err != nil {
			return bad(err.Error())
		}
		if n > math.MaxUint16 {
			return bad(fmt.Sprintf("%s is not in 0..=65535", v))
		}
	case kindUintList:
		for _, p := range strings.Split(v, ",") {
			if _, err := parseRustUint(p, 64); err != nil {
				return &usageError{fmt.Sprintf("error: invalid value '%s' for '%s': %s%s", p, spec.display(), err, clapMore)}
			}
		}
	case kindFloat:
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 32); err != nil || strings.TrimSpace(v) != v {
			return bad("invalid float literal")
		}
	case kindOptBool:
		if v != "true" && v != "false" {
			return bad("value was not a boolean")
		}
	case kindEnum:
		for _, ok := range spec.values {
			if v == ok {
				return nil
			}
		}
		return &usageError{fmt.Sprintf("error: invalid value '%s' for '%s'\n  [possible values: %s]%s", v, spec.display(), strings.Join(spec.values, ", "), clapMore)}
	}
	return nil
}

// parseRustUint parses like Rust's str::parse::<usize>, with its messages.
func parseRustUint(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, errors.New("cannot parse integer from empty string")
	}
	t := strings.TrimPrefix(s, "+")
	if t == "" {
		return 0, errors.New("invalid digit found in string")
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, errors.New("invalid digit found in string")
		}
	}
	n, err := strconv.ParseUint(t, 10, bits)
	if err != nil {
		return 0, errors.New("number too large to fit in target type")
	}
	return n, nil
}

// fill sets the typed fields from the resolved values.
func (a *Args) fill() {
	a.ModelID = a.rawString("model_id")
	a.Revision = a.rawString("revision")
	a.ValidationWorkers = a.rawInt("validation_workers")
	if v, ok := a.raw["sharded"]; ok {
		b := v == "true"
		a.Sharded = &b
	}
	a.NumShard = a.rawOptInt("num_shard")
	a.Quantize = a.rawString("quantize")
	a.Speculate = a.rawOptInt("speculate")
	a.DType = a.rawString("dtype")
	a.KVCacheDType = a.rawString("kv_cache_dtype")
	a.MaxConcurrentRequests = a.rawInt("max_concurrent_requests")
	a.MaxBestOf = a.rawInt("max_best_of")
	a.MaxStopSequences = a.rawInt("max_stop_sequences")
	a.MaxTopNTokens = a.rawInt("max_top_n_tokens")
	a.MaxInputTokens = a.rawOptInt("max_input_tokens")
	a.MaxInputLength = a.rawOptInt("max_input_length")
	a.MaxTotalTokens = a.rawOptInt("max_total_tokens")
	a.MaxBatchPrefillTokens = a.rawOptInt("max_batch_prefill_tokens")
	a.MaxBatchTotalTokens = a.rawOptInt("max_batch_total_tokens")
	a.MaxBatchSize = a.rawOptInt("max_batch_size")
	a.CUDAGraphs = a.rawIntList("cuda_graphs")
	a.Hostname = a.rawString("hostname")
	a.Port = a.rawInt("port")
	a.HubCache = a.rawString("huggingface_hub_cache")
	a.CUDAMemoryFraction = a.rawF32AsF64("cuda_memory_fraction")
	a.Ngrok = a.raw["ngrok"] == "true"
	a.NgrokAuthtoken = a.rawString("ngrok_authtoken")
	a.NgrokEdge = a.rawString("ngrok_edge")
	a.LoraAdapters = a.rawString("lora_adapters")
	a.MaxClientBatchSize = a.rawInt("max_client_batch_size")
	a.PayloadLimit = a.rawInt("payload_limit")
	a.EnablePrefillLogprobs = a.raw["enable_prefill_logprobs"] == "true"
	a.GracefulTimeout = a.rawInt("graceful_termination_timeout")
}

func (a *Args) rawString(f string) string { return a.raw[f] }

// rawInt is an unsigned value, capped at MaxInt32·1024 (0 when unset).
func (a *Args) rawInt(f string) int {
	n, _ := strconv.ParseUint(strings.TrimPrefix(a.raw[f], "+"), 10, 64)
	if n > math.MaxInt32*1024 {
		return math.MaxInt32 * 1024
	}
	return int(n)
}

// rawOptInt is rawInt, nil when the argument is unset.
func (a *Args) rawOptInt(f string) *int {
	if _, ok := a.raw[f]; !ok {
		return nil
	}
	n := a.rawInt(f)
	return &n
}

// rawIntList is a comma-delimited list, nil when the argument is unset.
func (a *Args) rawIntList(f string) []int {
	v, ok := a.raw[f]
	if !ok {
		return nil
	}
	list := []int{}
	for _, p := range strings.Split(v, ",") {
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "+"))
		list = append(list, n)
	}
	return list
}

// rawF32AsF64 is an f32 in the launcher, handed to the shards as its
// Display text (CUDA_MEMORY_FRACTION=0.9), which Python reads back as a double.
func (a *Args) rawF32AsF64(f string) float64 {
	f32, _ := strconv.ParseFloat(a.raw[f], 32)
	f64, _ := strconv.ParseFloat(strconv.FormatFloat(f32, 'g', -1, 32), 64)
	return f64
}

// argumentValidation is LauncherError::ArgumentValidation (and the
// router's RouterError::ArgumentValidation): Rust prints it as
// `Error: ArgumentValidation("…")` and exits 1.
type argumentValidation struct{ msg string }

func (e *argumentValidation) Error() string {
	return "Error: ArgumentValidation(" + rustDebugString(e.msg) + ")"
}

// rustDebugString quotes s the way Rust's Debug for str does.
func rustDebugString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// numShards is find_num_shards
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L1374-L1412);
// visible is the number of GPUs the container sees (CUDA_VISIBLE_DEVICES
// in TGI, SIM_NUM_GPUS here).
func (a *Args) numShards(visible int) (int, error) {
	var n int
	switch {
	case a.Sharded != nil && *a.Sharded && a.NumShard == nil:
		if visible <= 1 {
			return 0, fmt.Errorf("Error: NotEnoughCUDADevices(%s)", rustDebugString(fmt.Sprintf("`sharded` is true but only found %d CUDA devices", visible)))
		}
		n = visible
	case a.Sharded != nil && *a.Sharded:
		if *a.NumShard <= 1 {
			return 0, &argumentValidation{"`sharded` is true but `num_shard` <= 1"}
		}
		n = *a.NumShard
	case a.Sharded != nil && a.NumShard == nil:
		n = 1
	case a.NumShard != nil:
		n = *a.NumShard
	default:
		n = max(visible, 1)
	}
	if n < 1 {
		return 0, &argumentValidation{"`num_shard` cannot be < 1"}
	}
	return n, nil
}

// maxInputTokens resolves --max-input-tokens and its deprecated alias
// (https://github.com/huggingface/text-generation-inference/blob/v3.3.7/launcher/src/main.rs#L2100-L2112).
func (a *Args) maxInputTokens() (*int, error) {
	switch {
	case a.MaxInputTokens != nil && a.MaxInputLength != nil:
		return nil, &argumentValidation{fmt.Sprintf("Both `max_input_tokens` (%d) and `max_input_length` (%d) are set. Please define only `max_input_tokens` as `max_input_length is deprecated for naming consistency.", *a.MaxInputTokens, *a.MaxInputLength)}
	case a.MaxInputTokens != nil:
		return a.MaxInputTokens, nil
	}
	return a.MaxInputLength, nil
}

// debugString renders Args like `tracing::info!("{:#?}", args)`.
func (a *Args) debugString() string {
	var b strings.Builder
	b.WriteString("Args {\n")
	for _, spec := range launcherArgs {
		v, ok := a.raw[spec.field]
		var s string
		switch {
		case spec.field == "api_key" || spec.field == "ngrok_authtoken":
			if ok {
				s = `Some("[redacted]")`
			} else {
				s = "None"
			}
		case spec.kind == kindBool:
			s = strconv.FormatBool(ok && v == "true")
		case spec.kind == kindList:
			if !ok {
				s = "[]"
			} else {
				parts := strings.Split(v, ",")
				for i, p := range parts {
					parts[i] = rustDebugString(p)
				}
				s = "[" + strings.Join(parts, ", ") + "]"
			}
		case spec.kind == kindUintList:
			if !ok {
				s = "None"
			} else {
				s = "Some([" + strings.ReplaceAll(v, ",", ", ") + "])"
			}
		case !ok:
			s = "None"
		case spec.kind == kindEnum:
			s = enumDebug(v)
		case spec.kind == kindString:
			s = rustDebugString(v)
		case spec.kind == kindFloat:
			// Rust's {:?} of an f32: shortest digits, ".0" when integral.
			f, _ := strconv.ParseFloat(v, 32)
			s = strconv.FormatFloat(f, 'f', -1, 32)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
		default:
			s = v
		}
		if ok && spec.def == "" && spec.kind != kindBool && spec.kind != kindList && spec.kind != kindUintList && !strings.HasPrefix(s, "Some(") {
			s = "Some(" + s + ")"
		}
		fmt.Fprintf(&b, "    %s: %s,\n", spec.field, s)
	}
	b.WriteString("}")
	return b.String()
}

// enumDebug is the Rust variant name of a ValueEnum value: "bitsandbytes-nf4" → BitsandbytesNf4.
func enumDebug(v string) string {
	switch v {
	case "bfloat16":
		return "BFloat16"
	case "fp8_e4m3fn":
		return "Fp8e4m3fn"
	case "fp8_e5m2":
		return "Fp8e5m2"
	}
	var b strings.Builder
	up := true
	for _, r := range v {
		if r == '-' || r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func helpText() string {
	var b strings.Builder
	b.WriteString("Text Generation Launcher (vramcalc tgisim " + simVersion + ": a simulator, no GPU)\n\nUsage: text-generation-launcher [OPTIONS]\n\nOptions:\n")
	for _, spec := range launcherArgs {
		line := "      " + spec.display()
		if spec.short != 0 {
			line = "  -" + string(spec.short) + ", " + spec.display()
		}
		if !spec.noEnv {
			line += " [env: " + spec.envName() + "=]"
		}
		if spec.def != "" {
			line += " [default: " + spec.def + "]"
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("  -h, --help\n  -V, --version\n")
	return b.String()
}
