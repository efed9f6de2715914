package simkit

import (
	"fmt"
	"strconv"
	"strings"
)

// The engines' servers read their command lines with Python's argparse:
// --flag VALUE, --flag=VALUE, store_true switches, and exit 2 with the
// usage line on an error.

// Flag is one option a simulator acts on, stored in its arguments A.
type Flag[A any] struct {
	// Switch is a store_true option: it takes no value.
	Switch bool
	// Set stores the value; its error is argparse's "argument X: …".
	Set func(a *A, v string) error
}

// Argparse is one server's command line: the options it acts on, those it
// accepts and ignores, and the usage line of its errors.
type Argparse[A any] struct {
	Flags map[string]Flag[A]
	// Ignored take a value; IgnoredSwitches take none.
	Ignored, IgnoredSwitches map[string]bool
	// Positionals: words that are not options (and negative numbers) are
	// positional arguments; otherwise they are unrecognized.
	Positionals bool
	// Usage is the usage line and the program name of the error line
	// ("usage: vllm serve [model_tag] [options]", "vllm serve").
	Usage, Prog string
}

// UsageError is argparse's error: the usage line and "PROG: error: …" on
// stderr, exit code 2.
type UsageError struct{ Usage, Prog, Msg string }

func (e *UsageError) Error() string { return e.Usage + "\n" + e.Prog + ": error: " + e.Msg + "\n" }

// Parse stores the options of argv in a, and returns the options given
// (their names, in order) and the positional arguments.
func (p *Argparse[A]) Parse(a *A, argv []string) (given, positionals []string, err error) {
	fail := func(format string, v ...any) ([]string, []string, error) {
		return nil, nil, &UsageError{p.Usage, p.Prog, fmt.Sprintf(format, v...)}
	}
	for i := 0; i < len(argv); i++ {
		name, val, hasVal := strings.Cut(argv[i], "=")
		if p.Positionals && (!strings.HasPrefix(name, "-") || isNumber(argv[i])) {
			positionals = append(positionals, argv[i])
			continue
		}
		f, known := p.Flags[name]
		switch {
		case known && f.Switch, !known && p.IgnoredSwitches[name]:
			if hasVal {
				return fail("argument %s: ignored explicit argument '%s'", name, val)
			}
			if known {
				f.Set(a, "")
			}
			given = append(given, name)
			continue
		case !known && !p.Ignored[name]:
			return fail("unrecognized arguments: %s", argv[i])
		}
		if !hasVal {
			if i+1 >= len(argv) {
				return fail("argument %s: expected one argument", name)
			}
			i++
			val = argv[i]
		}
		given = append(given, name)
		if known {
			if err := f.Set(a, val); err != nil {
				return fail("argument %s: %v", name, err)
			}
		}
	}
	return given, positionals, nil
}

// Fail is a usage error of the command line that Parse accepted.
func (p *Argparse[A]) Fail(msg string) error { return &UsageError{p.Usage, p.Prog, msg} }

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// IntFlag is argparse's type=int.
func IntFlag[A any](dst func(*A) *int) Flag[A] {
	return Flag[A]{Set: func(a *A, v string) error { return ParseInt(v, dst(a)) }}
}

// StrFlag is a string option.
func StrFlag[A any](dst func(*A) *string) Flag[A] {
	return Flag[A]{Set: func(a *A, v string) error { *dst(a) = v; return nil }}
}

// FloatFlag is argparse's type=float.
func FloatFlag[A any](dst func(*A) *float64) Flag[A] {
	return Flag[A]{Set: func(a *A, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("invalid float value: '%s'", v)
		}
		*dst(a) = f
		return nil
	}}
}

// SwitchFlag is a store_true (or, with to false, store_false) switch.
func SwitchFlag[A any](dst func(*A) *bool, to bool) Flag[A] {
	return Flag[A]{Switch: true, Set: func(a *A, _ string) error { *dst(a) = to; return nil }}
}

// ParseInt is argparse's int() of v into dst.
func ParseInt(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("invalid int value: '%s'", v)
	}
	*dst = n
	return nil
}
