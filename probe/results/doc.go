// Package results is the format of validate's results file: the header of
// each run (Header), the record of each launch (Observation), the Store
// that validate appends to, and Read and ReadAll for everything that only
// reads the file (calibrate, plot).
//
// It is a package of its own, apart from package
// [github.com/vramcalc/vramcalc/probe] that writes the file, so that the
// readers link none of what launching needs: no HTTP client, no NVML, no
// container runtime. It imports the standard library and package estimate
// only (a test checks that net and nvml stay out).
//
// # The file
//
// The file has two kinds of records, one JSON object per line. A run
// header (Header: "kind":"run", run id, model, engine, image, GPU and
// settings) is written by each validate invocation before its first
// launch. Each launch is then one observation (Observation, no "kind"):
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
// Prediction) and log_tail (the last 40 log lines). Read returns the
// observations, ReadAll the headers too, with each observation's line and
// the run ids the file names.
//
// What the file guarantees:
//
//   - One run at a time: OpenStore takes an exclusive lock (flock(2), on
//     Linux, macOS and the BSDs; none elsewhere) that the Store holds until
//     Close, and the kernel releases when the process dies, kill -9
//     included. A second OpenStore of the file, in any process, fails with
//     ErrLocked naming the run id of the file's last header.
//   - Nothing lost: the file is opened with O_APPEND and every record is
//     one write of a whole line followed by an fsync before the run goes
//     on, so a crash or kill -9 loses at most the launch in flight. The
//     header is on disk before the first launch, so even a run killed in
//     that launch leaves the run id its containers are labelled with.
//   - Nothing false: a record whose write or fsync fails (a full disk) is
//     cut off again, so the file ends with its last whole record and the
//     error wraps the system's (ENOSPC).
//   - Nothing else touched: a file whose first record is not a vramcalc
//     record (a header, or an object with "run" and "seq"), or that is not
//     a regular file, is refused with ErrNotResults, and a later line that
//     is not a record with ErrCorrupt ("line N: ..."); neither is ever
//     truncated. The one repair: a torn last line (no newline, not JSON,
//     and a prefix of a record line or starting with one's prefix,
//     {"run":" or {"kind":"run","run":") is a write cut short by a crash,
//     and OpenStore truncates the file to the last whole record so appends
//     never follow half a line; Read and ReadAll skip it and leave the
//     file as it is. A whole last record without its newline is kept, and
//     OpenStore adds the newline.
//   - OpenStore returns what the file already holds, so that with
//     --resume (Resume in [github.com/vramcalc/vramcalc/probe.Validation])
//     the points already there (by Point.Key) are not launched again, the
//     run goes on under the file's last run id and numbering, no point is
//     recorded twice, and only the containers of the run ids the file
//     names are removed.
//   - Files written by earlier releases stay readable: they have no
//     headers, and their failure "bad_flag" reads as "argument_validation"
//     (Observation.UnmarshalJSON, so plain json.Unmarshal reads it too).
//   - The file holds no secrets: a record has no environment, and
//     log_tail has the HF token replaced by "[redacted]".
package results
