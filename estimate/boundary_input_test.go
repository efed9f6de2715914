package estimate

import (
	"strconv"
	"strings"
	"testing"
)

// With --max-input-tokens given, the boundary is the largest
// --max-total-tokens for that input, and the result says which rule it used.
func TestBoundaryForGivenInput(t *testing.T) {
	def := run(t, llama31_8B, l4, 1, "3.3.7", Settings{})
	if def.Boundary.MaxTotalTokens != 22_529 {
		t.Errorf("I = T − 1: boundary %d, want 22,529", def.Boundary.MaxTotalTokens)
	}
	// A shorter input limit lowers the largest total: TGI's warm-up splits
	// the default prefill (8,049 on an L4) into ⌈8,049/I⌉ requests that each
	// reserve KV for T − 1 tokens, 9 of them at I = 1,000.
	for _, c := range []struct{ I, wantT int }{{1000, 4438}, {8000, 19_969}} {
		I := c.I
		res := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxInputTokens: I})
		b := res.Boundary
		if b.MaxInputTokens != I || b.MaxTotalTokens != c.wantT {
			t.Fatalf("I=%d: boundary %+v", I, b)
		}
		p := b.PrefillAtMaxTotal
		in := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxInputTokens: I, MaxTotalTokens: b.MaxTotalTokens, MaxBatchPrefillTokens: p})
		out := run(t, llama31_8B, l4, 1, "3.3.7", Settings{MaxInputTokens: I, MaxTotalTokens: b.MaxTotalTokens + 1, MaxBatchPrefillTokens: p})
		if !in.Startup.Fits || out.Startup.Fits {
			t.Errorf("I=%d: T=%d fits=%v, T+1 fits=%v (%s)", I, b.MaxTotalTokens, in.Startup.Fits, out.Startup.Fits, out.Startup.Failure)
		}
		if want := "with --max-input-tokens " + strconv.Itoa(I) + " as given"; len(res.Assumptions) == 0 || !strings.Contains(res.Assumptions[0], want) {
			t.Errorf("I=%d: assumptions %q, want %q", I, res.Assumptions, want)
		}
	}
	if !strings.Contains(def.Assumptions[0], "assumes --max-input-tokens = --max-total-tokens − 1") {
		t.Errorf("default assumptions %q", def.Assumptions)
	}
}
