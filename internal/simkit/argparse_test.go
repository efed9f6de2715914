package simkit

import (
	"slices"
	"testing"
	"time"
)

type testArgs struct {
	N    int
	S    string
	On   bool
	Rate float64
}

var testCLI = &Argparse[testArgs]{
	Flags: map[string]Flag[testArgs]{
		"--n":    IntFlag(func(a *testArgs) *int { return &a.N }),
		"--s":    StrFlag(func(a *testArgs) *string { return &a.S }),
		"--on":   SwitchFlag(func(a *testArgs) *bool { return &a.On }, true),
		"--rate": FloatFlag(func(a *testArgs) *float64 { return &a.Rate }),
	},
	Ignored: map[string]bool{"--seed": true}, IgnoredSwitches: map[string]bool{"--quiet": true},
	Positionals: true, Usage: "usage: prog [options]", Prog: "prog",
}

// TestArgparse: argparse's forms and errors, as the simulators' servers read them.
func TestArgparse(t *testing.T) {
	for _, tt := range []struct {
		argv       []string
		want       testArgs
		given, pos []string
		err        string
	}{
		{argv: []string{"model", "--n", "7", "--s=x", "--on", "--seed", "1", "--quiet", "--rate", "0.5"},
			want: testArgs{N: 7, S: "x", On: true, Rate: 0.5}, given: []string{"--n", "--s", "--on", "--seed", "--quiet", "--rate"}, pos: []string{"model"}},
		// A negative number is a positional, as argparse takes it when no option looks like one.
		{argv: []string{"-1"}, pos: []string{"-1"}},
		{argv: []string{"--n", "x"}, err: "usage: prog [options]\nprog: error: argument --n: invalid int value: 'x'\n"},
		{argv: []string{"--n"}, err: "usage: prog [options]\nprog: error: argument --n: expected one argument\n"},
		{argv: []string{"--on=1"}, err: "usage: prog [options]\nprog: error: argument --on: ignored explicit argument '1'\n"},
		{argv: []string{"--what", "1"}, err: "usage: prog [options]\nprog: error: unrecognized arguments: --what\n"},
	} {
		var a testArgs
		given, pos, err := testCLI.Parse(&a, tt.argv)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: error %v, want %q", tt.argv, err, tt.err)
			}
			continue
		}
		if err != nil || a != tt.want || !slices.Equal(given, tt.given) || !slices.Equal(pos, tt.pos) {
			t.Errorf("%q: %+v given %q positional %q (%v), want %+v %q %q", tt.argv, a, given, pos, err, tt.want, tt.given, tt.pos)
		}
	}
}

// TestLoadEnv: every rejected variable is named in the one error, and the
// accepted ones are stored (900MiB = 943718400 bytes).
func TestLoadEnv(t *testing.T) {
	vars := map[string]string{"SIM_NUM_GPUS": "0", "SIM_EXTRA_OVERHEAD_BYTES": "900MiB", "SIM_TOKEN_DELAY": "-1s", "SIM_SEED": "42"}
	e, err := NewEnv(0, 0, 1, func() time.Time { return time.Unix(0, 0) }).Load(func(k string) string { return vars[k] })
	want := `simkit: bad simulator environment: SIM_NUM_GPUS="0": want an integer in 1..64; SIM_TOKEN_DELAY="-1s": want a duration such as 200ms`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if e.Overhead != 943718400 || e.Seed != 42 {
		t.Errorf("overhead %d seed %d, want 943718400 and 42", e.Overhead, e.Seed)
	}
}
