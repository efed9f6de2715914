package estimate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid marks settings the engine itself rejects or that make no sense.
var ErrInvalid = errors.New("estimate: invalid input")

// ErrUnsupported marks an engine, release or feature the estimator does not model.
var ErrUnsupported = errors.New("estimate: unsupported")

// ErrNotServed marks a model the chosen engine cannot serve the way the
// estimate sizes it (another engine can).
var ErrNotServed = errors.New("estimate: not served by this engine")

// NotServedError is ErrNotServed with the reason and what to do instead.
type NotServedError struct {
	// Why says which engine and release do not serve the model and why.
	Why string
	// Hint names what serves it.
	Hint string
}

func (e *NotServedError) Error() string { return ErrNotServed.Error() + ": " + e.Why }

// Unwrap makes errors.Is(err, ErrNotServed) hold.
func (e *NotServedError) Unwrap() error { return ErrNotServed }

// IsInvalid reports whether err comes from input the engine would reject.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// EngineInfo describes one serving engine vramcalc models.
type EngineInfo struct {
	// Name is what Engine.Name takes: "tgi", "vllm" or "sglang".
	Name string
	// Title is how the engine writes its own name: "TGI", "vLLM", "SGLang".
	Title string
	// DefaultVersion is the release assumed when Engine.Version is empty.
	DefaultVersion string
	// Oldest and Newest bound the releases modelled, as ParseVersion reads
	// them ("3.3.x" is every 3.3 patch release).
	Oldest, Newest string
}

// Releases is the modelled range as text, e.g. "1.0.0 – 3.3.x".
func (e EngineInfo) Releases() string { return e.Oldest + " – " + e.Newest }

// sizer is one engine's whole startup sizing and boundary search. tgi.go,
// vllm.go and sglang.go each implement it; Run and KVBytesPerToken choose
// one by name and nothing else switches on the engine.
type sizer interface {
	info() EngineInfo
	// run sizes one start with the release (already defaulted) and searches
	// the boundary. Settings are already validated.
	run(m Model, hw Hardware, version string, s Settings) (Result, error)
	// kvBytesPerToken is the KV cache of one token on one of ws shards.
	kvBytesPerToken(m Model, ws, elt int) (Bytes, error)
}

// sizers are the modelled engines, in the order Engines lists them.
var sizers = [...]sizer{tgiSizer{}, vllmSizer{}, sglangSizer{}}

// Engines lists the engines vramcalc models.
func Engines() []EngineInfo {
	out := make([]EngineInfo, len(sizers))
	for i, z := range sizers {
		out[i] = z.info()
	}
	return out
}

// LookupEngine finds an engine by name (case-insensitive; "" and
// "text-generation-inference" are TGI).
func LookupEngine(name string) (EngineInfo, error) {
	z, err := sizerFor(name)
	if err != nil {
		return EngineInfo{}, err
	}
	return z.info(), nil
}

func sizerFor(name string) (sizer, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || n == "text-generation-inference" {
		n = "tgi"
	}
	for _, z := range sizers {
		if z.info().Name == n {
			return z, nil
		}
	}
	return nil, fmt.Errorf("%w: engine %q (known: tgi, vllm, sglang)", ErrUnsupported, name)
}

// Run estimates one engine start: the per-GPU memory breakdown, what the
// engine does with the given (or defaulted) settings, and the largest
// limits that start. It only computes; it never does I/O.
func Run(m Model, hw Hardware, eng Engine, s Settings) (res Result, err error) {
	z, err := sizerFor(eng.Name)
	if err != nil {
		return Result{}, err
	}
	info := z.info()
	ver := eng.Version
	if ver == "" {
		ver = info.DefaultVersion
	}
	if err := validate(m, hw, info, s); err != nil {
		return Result{}, err
	}
	if s.Spec.On() && info.Name == "tgi" {
		return Result{}, fmt.Errorf("%w: TGI's speculation is --speculate (Medusa heads or n-grams), not a draft method", ErrInvalid)
	}
	if err := s.Spec.check(&m); err != nil {
		return Result{}, err
	}
	// A vision tower is counted by tensors that were read or checked against
	// a published parameter count, or derived from vision_config for a
	// family synth_vision.go knows (towerDerived); otherwise it is a guess.
	towerFromConfig := m.Vision && !towerDerived(m) && (len(m.Tensors) == 0 || m.TensorsFrom == WeightsFromConfig || m.TensorsFrom == WeightsFromCatalogUnchecked)
	if err := checkInputs(&m, hw, info, &s); err != nil {
		return Result{}, err
	}
	if err := checkServed(m, info.Name, ver); err != nil {
		return Result{}, err
	}
	if res, err = z.run(m, hw, ver, s); err == nil {
		err = checkResult(&res)
	}
	if err != nil {
		return Result{}, err
	}
	res.LayerKinds = m.Counts()
	res.rateConfidence(m, towerFromConfig, info, ver)
	return res, nil
}

// rateConfidence says, loudly, what the figures do not model: each of
// m.Unmodelled, a vision tower whose weights are neither read nor derived,
// the layer kinds the engine does not size (unsizedKinds), what the sizer
// found it does not size for this start (Result.unmodelled), and a layout
// whose weights config.json alone does not give (layoutDerived), each as a
// warning and an assumption, and Confidence low.
func (r *Result) rateConfidence(m Model, towerFromConfig bool, e EngineInfo, ver string) {
	guessed := m.Unmodelled
	if towerFromConfig {
		guessed = append(guessed[:len(guessed):len(guessed)], "the vision tower and projector (vision_config): config.json does not give their weights, so they are not counted")
	}
	guessed = append(guessed[:len(guessed):len(guessed)], unsizedKinds(&m, r.LayerKinds, e, ver)...)
	guessed = append(guessed, r.unmodelled...)
	if e.Name == "tgi" && m.Type != "" && !tgiNativeTypes[m.Type] {
		// https://github.com/huggingface/text-generation-inference/blob/v3.3.7/server/text_generation_server/models/__init__.py#L1738-L1774
		// (docs/ENGINES.md §3, "Unknown architectures"): the same warm-up, with
		// transformers' layers; CausalLM has no KV pool.
		guessed = append(guessed, "TGI has no implementation of model_type "+strconv.Quote(m.Type)+": it runs it through transformers (TransformersFlashCausalLM with paged attention when the class supports TGI's attention backend, else CausalLM, unsharded and unpaged), sized here as its own models are")
	}
	if (len(m.Kinds) > 0 || m.IndexHeadDim > 0) && (m.TensorsFrom == WeightsFromConfig || m.TensorsFrom == WeightsFromCatalogUnchecked) && !layoutDerived(m) {
		guessed = append(guessed, "the weights of a "+describeCounts(r.LayerKinds)+" layout: config.json alone gives them as attention and MLP layers (state mixers and skipped MLPs are not derived); the checkpoint's safetensors headers give them exactly")
	}
	r.Confidence = ConfidenceHigh
	if len(guessed) == 0 {
		return
	}
	r.Confidence = ConfidenceLow
	for _, g := range guessed {
		r.Warnings = append(r.Warnings, "not modelled, the figures are a guess: "+g)
		r.Assumptions = append(r.Assumptions, "not modelled: "+g)
	}
}

// checkInputs refuses inputs beyond physical sense (limits.go) before any
// arithmetic, and derives m's tensors from config.json once when it has
// none (Result.WeightsFrom then says WeightsFromConfig, as before).
func checkInputs(m *Model, hw Hardware, e EngineInfo, s *Settings) error {
	if err := checkModel(m); err != nil {
		return err
	}
	if !within(hw, s) {
		if err := checkMagnitudes(hw, e, s); err != nil {
			return err
		}
	}
	if len(m.Tensors) == 0 {
		m.Tensors, m.TensorsFrom = SynthesizeTensors(*m), WeightsFromConfig
	}
	return nil // the tensors are checked as the engine's weight loop reads them (tally)
}

// ReleaseError is a release outside the range an engine is modelled for
// (errors.Is(err, ErrUnsupported)).
type ReleaseError struct {
	Engine  EngineInfo
	Version string
	// Why says what makes it unmodelled when it is not just the range (vLLM's V0/V1).
	Why string
}

func (e *ReleaseError) Error() string {
	if e.Why != "" {
		return fmt.Sprintf("%s: %s %s %s", ErrUnsupported, e.Engine.Title, e.Version, e.Why)
	}
	return fmt.Sprintf("%s: %s %s is outside the releases vramcalc models (%s)", ErrUnsupported, e.Engine.Title, e.Version, e.Engine.Releases())
}

func (e *ReleaseError) Unwrap() error { return ErrUnsupported }

// parseRelease parses raw and checks that it lies in e's modelled range,
// the same way for every engine.
func parseRelease(e EngineInfo, raw string) (Version, error) {
	v, err := ParseVersion(raw)
	if err != nil {
		return Version{}, fmt.Errorf("%w: %s version: %w", ErrInvalid, e.Title, err)
	}
	if err := checkRelease(e, v, raw); err != nil {
		return Version{}, err
	}
	return v, nil
}

func checkRelease(e EngineInfo, v Version, raw string) error {
	oldest, err1 := ParseVersion(e.Oldest)
	newest, err2 := ParseVersion(e.Newest)
	if err1 != nil || err2 != nil || v.Less(oldest) || newest.Less(v) {
		return &ReleaseError{Engine: e, Version: raw}
	}
	return nil
}

// Engine selects the serving engine and its release.
type Engine struct {
	// Name is "tgi", "vllm" or "sglang" (Engines lists them); "" means TGI.
	Name string
	// Version is a release such as "3.3.7", "3.3" (latest patch of 3.3),
	// "0.19.0" or "0.8.5-v0"; "" means the engine's DefaultVersion.
	Version string
}

// Version is a parsed engine release.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "3.3.7", "v3.3", "3.3.x", "2.0.4" and "3" (a missing
// or "x" minor or patch means the latest of that series, represented as 99).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == 'v' || t[0] == 'V') {
		t = t[1:]
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c == ' ' || c == '-' || c == '+' || c == '(' {
			t = t[:i]
			break
		}
	}
	v := Version{Minor: 99, Patch: 99}
	for i := 0; ; i++ {
		p, rest, more := strings.Cut(t, ".")
		if i == 3 || (i == 0 && p == "") {
			return Version{}, fmt.Errorf("bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
		}
		if i == 0 || (p != "x" && p != "X" && p != "*") { // a series wildcard is like a missing part
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return Version{}, fmt.Errorf("bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
			}
			switch i {
			case 0:
				v.Major = n
			case 1:
				v.Minor = n
			default:
				v.Patch = n
			}
		}
		if !more {
			return v, nil
		}
		t = rest
	}
}

// Less reports whether v is an earlier release than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// AtLeast reports whether v is o or later.
func (v Version) AtLeast(major, minor, patch int) bool {
	return !v.Less(Version{major, minor, patch})
}

// String prints the version, with "x" for a series wildcard.
func (v Version) String() string {
	p := func(n int) string {
		if n == 99 {
			return "x"
		}
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d.%s.%s", v.Major, p(v.Minor), p(v.Patch))
}
