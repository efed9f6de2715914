package estimate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid marks settings the engine itself rejects or that make no sense.
var ErrInvalid = fmt.Errorf("estimate: invalid input")


// ErrUnsupported marks an engine or feature the estimator does not model.
var ErrUnsupported = fmt.Errorf("estimate: unsupported")


// Run estimates one engine start: the per-GPU memory breakdown, what the
// engine does with the given (or defaulted) settings, and the largest
// limits that start. It only computes; it never does I/O.
func Run(m Model, hw Hardware, eng Engine, s Settings) (Result, error) {
	if err := validate(m, hw, s); err != nil {
		return Result{}, err
	}
	switch strings.ToLower(eng.Name) {
	case "", "tgi", "text-generation-inference":
	case "vllm":
		return runVLLM(m, hw, eng.Version, s)
	case "sglang":
		return runSGLang(m, hw, eng.Version, s)
	default:
		return Result{}, fmt.Errorf("%w: engine %q (known: tgi, vllm, sglang)", ErrUnsupported, eng.Name)
	}
	ver := eng.Version
	if ver == "" {
		ver = DefaultTGIVersion
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return Result{}, err
	}
	if v.Major < 1 || v.Major > 3 {
		return Result{}, fmt.Errorf("%w: tgi version %s (known: 1.x – 3.3.x)", ErrUnsupported, ver)
	}
	r, err := newTGIRun(m, hw, s, v)
	if err != nil {
		return Result{}, err
	}
	return r.result(Engine{Name: "tgi", Version: ver}), nil
}


// IsInvalid reports whether err comes from input the engine would reject.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }


// Engine selects the serving engine and its version.
type Engine struct {
	// Name is "tgi" (vLLM and SGLang come later).
	Name string
	// Version is a release such as "3.3.7", "3.3" (latest patch of 3.3) or "2.0.4".
	Version string
}


// Version is a parsed engine release.
type Version struct{ Major, Minor, Patch int }


// ParseVersion parses "3.3.7", "v3.3", "2.0.4" and "3" (a missing minor or
// patch means the latest of that series, represented as 99).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(strings.ToLower(s)), "v")
	if i := strings.IndexAny(t, " -+("); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) == 0 || len(parts) > 3 || parts[0] == "" {
		return Version{}, fmt.Errorf("estimate: bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
	}
	v := Version{Minor: 99, Patch: 99}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("estimate: bad engine version %q (want MAJOR.MINOR[.PATCH], e.g. 3.3.7)", s)
		}
		switch i {
		case 0:
			v.Major = n
		case 1:
			v.Minor = n
		case 2:
			v.Patch = n
		}
	}
	return v, nil
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
