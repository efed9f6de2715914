// Package results is the format of validate's results file: the record of
// each launch (Observation), the Store that validate appends to, and Read
// for everything that only reads the file (calibrate, plot).
//
// It is a package of its own, apart from package
// [github.com/vramcalc/vramcalc/probe] that writes the file, so that the
// readers link none of what launching needs: no HTTP client, no NVML, no
// container runtime. It imports the standard library and package estimate
// only (a test checks that net and nvml stay out).
//
// # The file
//
// Each launch is one JSON object on one line of a JSONL file (Observation):
// run and seq (the launch's number in its run), engine, image, model, the
// point's max_input_tokens, max_total_tokens and max_batch_prefill_tokens
// (Point), started (UTC), outcome ("ok" or "failed") and failure (one of
// estimate.FailureKinds), exit_code, reported (what the engine logged and
// exported: max_batch_total_tokens_log, max_batch_total_tokens_metric,
// kv_blocks, block_size, the defaults it chose; Reported), peak_bytes and
// loaded_bytes (per GPU index), peak_error (why a GPU has no peak: which
// reader, which GPUs, the last error), phases (durations in nanoseconds),
// requests (Sent, OK, Failed, rejected, wrong_length, concurrency;
// RequestStats), predicted (what the estimate said of that point;
// Prediction) and log_tail (the last 40 log lines).
//
// What the file guarantees:
//
//   - Store.Append writes one whole line and fsyncs it before the search
//     goes on, so a crash or kill -9 loses at most the launch in flight.
//   - OpenStore drops a torn last line (a write cut short, with no newline)
//     and truncates the file to the last whole line, so appends after a
//     crash never follow half a line. Read drops it too, and leaves the
//     file as it is.
//   - OpenStore returns the observations already in the file, so that with
//     --resume (Resume in [github.com/vramcalc/vramcalc/probe.Validation])
//     the points already there (by Point.Key) are not launched again, the run
//     goes on under the file's run id and numbering, and no point is
//     recorded twice.
//   - Files written by earlier releases stay readable: their failure
//     "bad_flag" reads as "argument_validation" (Observation.UnmarshalJSON,
//     so plain json.Unmarshal reads it too).
//   - The file holds no secrets: an observation has no environment, and
//     log_tail has the HF token replaced by "[redacted]".
package results
