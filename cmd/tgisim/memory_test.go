package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

// testEnv is the default ground truth with no jitter and no delays:
// an H100 of 81,559 MiB = 85,520,809,984 B, 896 MiB = 939,524,096 B of
// overhead, activation factor 1.4, wiggle 0.90.
func testEnv() simEnv {
	e, err := loadSimEnv(envMap(map[string]string{"SIM_SEED": "1", "SIM_STARTUP_DELAY": "0s", "SIM_TOKEN_DELAY": "0s"}), time.Now)
	if err != nil {
		panic(err)
	}
	return e
}

func intp(n int) *int { return &n }

// startWith plans and simulates one start of the Llama-3.1-8B shape.
func startWith(t *testing.T, argv []string, env simEnv) *startup {
	t.Helper()
	a, err := parseArgs(argv, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := resolveModel(a, envMap(map[string]string{"SIM_MODEL": "../../testdata/tgisim/sim-model.json"}))
	if err != nil {
		t.Fatal(err)
	}
	lp, _, err := planLaunch(a, m, env)
	if err != nil {
		t.Fatal(err)
	}
	return simulate(a, m, env, lp)
}

// TestWarmupBudget pins the ground-truth arithmetic for the Llama-3.1-8B
// shape (32 layers, 8 KV heads of 128, hidden 4096, intermediate 14336,
// vocab 128256, 16,060,522,496 B of weights) on the default H100.
//
// Per layer and block (flashinfer, BLOCK_SIZE 1) K or V is 1·8·128·2 =
// 2,048 B, so a block of all layers is 2,048·2·32 = 131,072 B.
// A prefill token's live set is 2·max(3·4096 + (2·32+2·8)·128,
// 2·4096 + 4·14336) = 2·65,536 = 131,072 B.
func TestWarmupBudget(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		mf   string
		// want
		requests, warmBlocks int
		warmKV, act, peak    int64
		numBlocks            int64
		maxInput, maxTotal   int
	}{
		{
			// One warm-up request of 4096 tokens reserving 4096 + 1 − 1 blocks:
			//   warm KV  = 64 tensors × 4096·2048 B (8 MiB, already 2 MiB-aligned) = 536,870,912
			//   act      = ⌈(⌊1.4·4096·131,072⌋ + 1·128256·4) / 2 MiB⌉·2 MiB
			//            = ⌈(751,619,276 + 513,024)/2,097,152⌉ = 359 segments = 752,877,568
			//   peak     = 939,524,096 + 16,060,522,496 + 536,870,912 + 752,877,568 = 18,289,795,072
			//   free     = 85,520,809,984 − 18,289,795,072 − (1 − 0.9)·85,520,809,984
			//            = 58,678,933,913.6 → ⌊/131,072⌋ = 447,684 blocks
			//   blocks   = 447,684 + 4,096 = 451,780; T = min(451,780, mpe 131,072)
			name:     "prefill 4096, I and T left to the warm-up",
			argv:     []string{"--max-batch-prefill-tokens", "4096"},
			requests: 1, warmBlocks: 4096,
			warmKV: 536_870_912, act: 752_877_568, peak: 18_289_795_072,
			numBlocks: 451_780, maxInput: 131_071, maxTotal: 131_072,
		},
		{
			// ⌈4096/1000⌉ = 5 requests (1000·4 + 96), each reserving T − 1 = 1999 blocks:
			//   warm KV = 64 × ⌈9995·2048 / 2 MiB⌉·2 MiB = 64 × 20,971,520 = 1,342,177,280
			//   act     = ⌈(751,619,276 + 5·513,024)/2 MiB⌉·2 MiB = 360 segments = 754,974,720
			//   peak    = 939,524,096 + 16,060,522,496 + 1,342,177,280 + 754,974,720 = 19,097,198,592
			//   free    = 85,520,809,984 − 19,097,198,592 − 8,552,080,998.4 = 57,871,530,393.6
			//             → 441,524 blocks; + 9,995 = 451,519
			name:     "I 1000, T 2000: five warm-up requests of full length",
			argv:     []string{"--max-batch-prefill-tokens", "4096", "--max-input-tokens", "1000", "--max-total-tokens", "2000"},
			requests: 5, warmBlocks: 9995,
			warmKV: 1_342_177_280, act: 754_974_720, peak: 19_097_198_592,
			numBlocks: 451_519, maxInput: 1000, maxTotal: 2000,
		},
		{
			// --cuda-memory-fraction 0.9: the reserve is (1 − 0.9·0.9)·total:
			//   free = 85,520,809,984 − 18,289,795,072 − 0.19·85,520,809,984
			//        = 50,982,061,015.04 → 388,962 blocks; + 4,096 = 393,058
			name:     "cuda memory fraction 0.9",
			argv:     []string{"--max-batch-prefill-tokens", "4096", "--cuda-memory-fraction", "0.9"},
			requests: 1, warmBlocks: 4096,
			warmKV: 536_870_912, act: 752_877_568, peak: 18_289_795_072,
			numBlocks: 393_058, maxInput: 131_071, maxTotal: 131_072,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := startWith(t, tt.argv, testEnv())
			if st.Failure != failNone {
				t.Fatalf("failure %s: %s", st.Failure, st.Message)
			}
			r := st.Ranks[0]
			if len(st.Warm.Truncates) != tt.requests || st.WarmBlocks != int64(tt.warmBlocks) {
				t.Errorf("warm-up: %d requests, %d blocks; want %d, %d", len(st.Warm.Truncates), st.WarmBlocks, tt.requests, tt.warmBlocks)
			}
			if r.WarmKV != tt.warmKV || r.Activation != tt.act || r.WarmupPeak() != tt.peak {
				t.Errorf("warm KV %d act %d peak %d; want %d %d %d", r.WarmKV, r.Activation, r.WarmupPeak(), tt.warmKV, tt.act, tt.peak)
			}
			if st.NumBlocks != tt.numBlocks || st.MaxBatchTotalTokens != tt.numBlocks {
				t.Errorf("blocks %d, max batch total tokens %d; want %d", st.NumBlocks, st.MaxBatchTotalTokens, tt.numBlocks)
			}
			if st.MaxInputTokens != tt.maxInput || st.MaxTotalTokens != tt.maxTotal {
				t.Errorf("I %d T %d; want %d %d", st.MaxInputTokens, st.MaxTotalTokens, tt.maxInput, tt.maxTotal)
			}
			// Once serving, the pool of every block (each of the 64 tensors
			// rounded up to 2 MiB) and the CUDA graphs stay within
			// MF·W·total − act + graphs + 64·2 MiB.
			bound := int64(st.Plan.MF*0.9*float64(simkit.DefaultGPUTotal)) - r.Activation + r.Graphs + 64*(2<<20)
			if r.Serving() > bound || r.Graphs == 0 {
				t.Errorf("serving memory %d (graphs %d), bound %d", r.Serving(), r.Graphs, bound)
			}
		})
	}
}

func TestWarmupFailures(t *testing.T) {
	gib := func(n int) string { return strconv.FormatInt(int64(n)<<30, 10) }
	tests := []struct {
		name    string
		argv    []string
		env     map[string]string
		failure string
		message string
	}{
		{
			// 24 GiB = 25,769,803,776: context + weights = 17,000,046,592 and
			// the warm KV of 65,536 blocks (8,589,934,592) leave 179,822,592 B
			// for a prefill peak of ⌈1.4·65,536·131,072 + 513,024⌉ = 12,027,166,720.
			name:    "prefill too large for a 24 GiB card",
			argv:    []string{"--max-batch-prefill-tokens", "65536"},
			env:     map[string]string{"SIM_GPU_TOTAL_BYTES": gib(24)},
			failure: failPrefillOOM,
			message: "RuntimeError: Not enough memory to handle 65536 prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
		},
		{
			// T given without I and P > T: T − P wraps in u32, so the warm-up
			// maps ≈ 4.29e9 KV tokens and the allocation fails before the
			// prefill (docs/ENGINES.md errata N2, derived).
			name:    "u32 wrap of max_new_tokens",
			argv:    []string{"--max-batch-prefill-tokens", "4096", "--max-total-tokens", "1000"},
			failure: failKVAllocOOM,
			message: "UnboundLocalError: cannot access local variable 'num_tokens' where it is not associated with a value",
		},
		{
			// 15 GiB = 16,106,127,360 < context + weights = 17,000,046,592.
			name:    "weights larger than the card",
			argv:    []string{"--max-batch-prefill-tokens", "4096"},
			env:     map[string]string{"SIM_GPU_TOTAL_BYTES": gib(15)},
			failure: failLoadOOM,
		},
		{
			// One warm-up request of 59,999 tokens holding T − 1 = 59,999
			// blocks (64 × ⌈59,999·2,048/2 MiB⌉·2 MiB = 7,918,845,952) and a
			// prefill peak of 11,012,145,152: the peak is 35,931,037,696, and
			// on 37 GiB = 39,728,447,488 the 3,797,409,792 left are below the
			// reserve 0.1·total = 3,972,844,748.8, so no block is added and
			// the budget is 59,999 < T.
			name:    "no room left after warm-up",
			argv:    []string{"--max-batch-prefill-tokens", "59999", "--max-input-tokens", "59999", "--max-total-tokens", "60000"},
			env:     map[string]string{"SIM_GPU_TOTAL_BYTES": gib(37)},
			failure: failNotEnoughMemory,
			message: "Backend(NotEnoughMemory(60000))",
		},
		{
			// Paged attention has no chunking, so the router wants P ≥ I.
			name:    "paged attention: prefill below input",
			argv:    []string{"--max-batch-prefill-tokens", "2048", "--max-input-tokens", "4000", "--max-total-tokens", "4096"},
			env:     map[string]string{"ATTENTION": "paged"},
			failure: failRouterArgs,
			message: "`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: 2048 and 4000",
		},
		{
			name:    "num_heads not divisible",
			argv:    []string{"--num-shard", "3", "--max-batch-prefill-tokens", "4096"},
			env:     map[string]string{"SIM_NUM_GPUS": "4"},
			failure: failShardInit,
			message: "ValueError: `num_heads` must be divisible by `num_shards` (got `num_heads`: 32 and `num_shards`: 3",
		},
		{
			name:    "more shards than GPUs",
			argv:    []string{"--num-shard", "2", "--max-batch-prefill-tokens", "4096"},
			failure: failShardInit,
			message: "AssertionError: Each process is one gpu",
		},
		{
			name:    "cuda memory fraction above 1",
			argv:    []string{"--cuda-memory-fraction", "1.5", "--max-batch-prefill-tokens", "4096"},
			failure: failShardInit,
			message: "ValueError: Invalid fraction value: 1.5. Allowed range: 0~1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"SIM_SEED": "1"}
			for k, v := range tt.env {
				vars[k] = v
			}
			env, err := loadSimEnv(envMap(vars), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			st := startWith(t, tt.argv, env)
			if st.Failure != tt.failure {
				t.Fatalf("failure %q (%s), want %q", st.Failure, st.Message, tt.failure)
			}
			if tt.message != "" && st.Message != tt.message {
				t.Errorf("message\n got %q\nwant %q", st.Message, tt.message)
			}
		})
	}
}

// TestShardedJitter: two shards with jitter get different contexts from
// the seed; the router takes the smaller block count; the same seed gives
// the same start.
func TestShardedJitter(t *testing.T) {
	vars := map[string]string{"SIM_NUM_GPUS": "2", "SIM_JITTER_BYTES": "268435456", "SIM_SEED": "42"}
	env, err := loadSimEnv(envMap(vars), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	st := startWith(t, []string{"--max-batch-prefill-tokens", "4096"}, env)
	if st.Failure != failNone {
		t.Fatal(st.Message)
	}
	if len(st.Ranks) != 2 {
		t.Fatalf("%d ranks, want 2", len(st.Ranks))
	}
	for r, rm := range st.Ranks {
		if j := rm.Context - env.Overhead; j < 0 || j > env.Jitter {
			t.Errorf("rank %d jitter %d outside [0, %d]", r, j, env.Jitter)
		}
		// Weights split in two: 16,060,522,496 / 2.
		if rm.Weights != 8_030_261_248 {
			t.Errorf("rank %d weights %d, want 8,030,261,248", r, rm.Weights)
		}
	}
	if want := min(st.Ranks[0].NumBlocks, st.Ranks[1].NumBlocks); st.NumBlocks != want {
		t.Errorf("router blocks %d, want the minimum %d", st.NumBlocks, want)
	}
	again := startWith(t, []string{"--max-batch-prefill-tokens", "4096"}, env)
	if again.Ranks[0].Context != st.Ranks[0].Context || again.Ranks[1].Context != st.Ranks[1].Context {
		t.Errorf("same seed, different jitter")
	}
	env.Seed = 43
	other := startWith(t, []string{"--max-batch-prefill-tokens", "4096"}, env)
	if other.Ranks[0].Context == st.Ranks[0].Context && other.Ranks[1].Context == st.Ranks[1].Context {
		t.Errorf("another seed gave the same jitter")
	}
}

// TestDefaultPrefill checks the launcher's heuristic for the Llama-3.1-8B
// shape: flop = 32·(2·32·128·4096·3 + 2·8·128·4096·2 + 2·3·4096·14336)
// = 15,032,385,536 per token.
func TestDefaultPrefill(t *testing.T) {
	m := simkit.CatalogModel("meta-llama/Llama-3.1-8B-Instruct")
	tests := []struct {
		name, card string
		total      int64
		ws         int
		want       int
		warn       string
	}{
		// 900e12 / 15,032,385,536 = 59,870.6
		{"H100", "NVIDIA H100 80GB HBM3", 81559 << 20, 1, 59870, ""},
		// 121e12 / 15,032,385,536 = 8,049.3
		{"L4", "NVIDIA L4", 23034 << 20, 1, 8049, ""},
		// two H100s: 2·900e12 / 15,032,385,536 = 119,741.3 (below mpe 131,072)
		{"2xH100", "NVIDIA H100 80GB HBM3", 81559 << 20, 2, 119741, ""},
		{"unknown card", "NVIDIA RTX A6000", 48 << 30, 1, 4096, "Unkown compute for card nvidia-rtx-a6000"},
		{"no nvidia-smi", "", 80 << 30, 1, 4096, ""},
		// vram_maximum on 20 GiB: (f32(20480·2^20)·1·0.95 − 14,449,770,496) / 260,096
		// = (20,401,094,656 − 14,449,770,496) / 260,096 = 22,881
		{"small card caps it", "NVIDIA H100", 20 << 30, 1, 22881, "Reducing the max batch prefill from 59870 to 22881 because there is not enough VRAM to support it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			env.GPU.Name, env.GPU.Total, env.GPU.Count = tt.card, tt.total, tt.ws
			got, logs := defaultPrefill(m, env, tt.ws, 1.0)
			if got != tt.want {
				t.Errorf("prefill %d, want %d", got, tt.want)
			}
			var warned string
			for _, l := range logs {
				if l.level == "WARN" {
					warned = l.msg
				}
			}
			if warned != tt.warn {
				t.Errorf("warning %q, want %q", warned, tt.warn)
			}
			if last := logs[len(logs)-1].msg; last != "Default `max_batch_prefill_tokens` to "+strconv.Itoa(tt.want) {
				t.Errorf("last log %q", last)
			}
		})
	}
}

func TestBuildWarmup(t *testing.T) {
	tests := []struct {
		name       string
		I, T, mbs  *int
		P          int
		truncates  []int
		blockTotal int64
	}{
		{"T unset: one request of P", nil, nil, nil, 4096, []int{4096}, 4096},
		{"I splits P", intp(1500), nil, nil, 4096, []int{1500, 1500, 1096}, 4096},
		{"T set: T − 1 per request", intp(1500), intp(2000), nil, 4096, []int{1500, 1500, 1096}, 3 * 1999},
		{"max batch size stops early", intp(1000), intp(2000), intp(2), 4096, []int{1000, 1000}, 2 * 1999},
		// 4096 + (2^32 + 1000 − 4096) − 1 = 4,294,968,295
		{"u32 wrap", nil, intp(1000), nil, 4096, []int{4096}, 4_294_968_295},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := buildWarmup(tt.I, tt.P, tt.T, tt.mbs, 0)
			if len(b.Truncates) != len(tt.truncates) {
				t.Fatalf("truncates %v, want %v", b.Truncates, tt.truncates)
			}
			for i := range b.Truncates {
				if b.Truncates[i] != tt.truncates[i] {
					t.Errorf("truncates %v, want %v", b.Truncates, tt.truncates)
				}
			}
			var sum int64
			for _, bt := range b.BlockTokens {
				sum += bt
			}
			if sum != tt.blockTotal {
				t.Errorf("block tokens %d, want %d", sum, tt.blockTotal)
			}
		})
	}
}
