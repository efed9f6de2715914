package probe

import (
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/estimate"
)

func TestTGIEngine(t *testing.T) {
	var e TGI
	args := e.Args("meta-llama/Llama-3.1-8B-Instruct", Point{MaxInputTokens: 4095, MaxTotalTokens: 4096, MaxBatchPrefillTokens: 8192}, LaunchOptions{NumShard: 2, CUDAMemoryFraction: 0.9})
	want := "--model-id meta-llama/Llama-3.1-8B-Instruct --num-shard 2 --cuda-memory-fraction 0.9 --max-input-tokens 4095 --max-total-tokens 4096 --max-batch-prefill-tokens 8192"
	if got := strings.Join(args, " "); got != want {
		t.Errorf("args = %q", got)
	}
	var r Reported
	for _, l := range []string{
		"2025-01-01T00:00:00.000000Z  INFO text_generation_launcher: Default `max_batch_prefill_tokens` to 8049",
		"2025-01-01T00:00:05.000000Z  INFO text_generation_launcher: KV-cache blocks: 22460, size: 1",
		"2025-01-01T00:00:05.100000Z  INFO text_generation_router_v3: backends/v3/src/lib.rs:137: Setting max batch total tokens to 22460",
		"2025-01-01T00:00:05.200000Z  INFO text_generation_router_v3: backends/v3/src/main.rs:170: Maximum input tokens defaulted to 22459",
	} {
		e.ParseLog(l, &r)
	}
	if r != (Reported{MaxBatchTotalTokensLog: 22460, KVBlocks: 22460, BlockSize: 1, DefaultPrefill: 8049, MaxInputTokens: 22459}) {
		t.Errorf("reported = %+v", r)
	}
	// torch's OOM in format_size units: 456.00 MiB = 456·2^20 =
	// 478,150,656 B; 1.07 GiB = ⌊1.07·2^30⌋ = 1,148,903,751 B.
	var oom Reported
	e.ParseLog("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 456.00 MiB. GPU 0 has a total capacity of 21.95 GiB of which 1.07 GiB is free. Including non-PyTorch memory, this process has 20.88 GiB memory in use.", &oom)
	if oom.OOMRequestBytes != 478_150_656 || oom.OOMFreeBytes != 1_148_903_751 {
		t.Errorf("OOM sizes = %d, %d", oom.OOMRequestBytes, oom.OOMFreeBytes)
	}
	if got := e.ParseMetrics("# TYPE tgi_batch_max_total_tokens gauge\ntgi_batch_max_total_tokens 22460\n"); got != 22460 {
		t.Errorf("gauge = %d", got)
	}
	cases := []struct {
		tail []string
		code int
		want string
	}{
		{[]string{"RuntimeError: Not enough memory to handle 8049 prefill tokens. You need to decrease `--max-batch-prefill-tokens`"}, 1, estimate.FailureWarmupOOM},
		{[]string{"UnboundLocalError: cannot access local variable 'num_tokens'"}, 1, estimate.FailureWarmupOOM},
		{[]string{"Error: Backend(NotEnoughMemory(24000))", "Not enough memory to handle `max_total_tokens=24000`"}, 1, estimate.FailureNotEnoughMemory},
		{[]string{"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"}, 1, estimate.FailureCUDAOOM},
		{[]string{"Error: ArgumentValidation(\"`max_input_tokens`(4096) must be < `max_total_tokens`(4096)\")"}, 1, estimate.FailureArgumentValidation},
		{[]string{"Error: DownloadError"}, 1, estimate.FailureDownload},
		{[]string{"Segmentation fault"}, 139, estimate.FailureCrash},
		{[]string{"Shutting down"}, 0, ""},
	}
	for _, c := range cases {
		if got := e.Classify(c.code, c.tail); got != c.want {
			t.Errorf("Classify(%d, %q) = %q, want %q", c.code, c.tail, got, c.want)
		}
	}
}
