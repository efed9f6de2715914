// Package hfmeta finds what the estimator needs to know about a Hugging
// Face model: its config.json (parsed into an estimate.Model by
// ParseConfig) and, when available, the tensor list of its safetensors
// headers, without downloading any weights.
//
// [Client.Resolve] tries, in order, a local directory, the user's Hugging
// Face cache, the embedded catalog (package hfmeta/catalog) and the Hub,
// the last through [Client.Remote]. The Hub client is package hfmeta/hub:
// it reads config.json, model.safetensors.index.json and, for each shard,
// only the header (one HTTP Range request of 16 KiB, plus one for the rest
// when the header is longer). It is a package of its own so that hfmeta
// imports no net, net/http or crypto: a program that resolves models from
// the cache and the catalog links none of them, and vramcalc runs the Hub
// client in a separate program. [ParseConfig], [HeaderSize],
// [DecodeHeader], [ParseIndex], [CheckRepoID] and [Meta.SetTensors] are
// the pieces hfmeta/hub shares with the local sources.
//
// # Safetensors headers
//
// [ParseHeader] and [ParseHeaderAt] parse the 8-byte length and the JSON
// header and check them as the reference implementation does. A declared
// length above [MaxHeaderSize] ([ErrHeaderTooLarge]) or past the end of
// the file ([ErrTruncated]) is refused before anything is allocated. A file
// whose tensor data is missing is accepted: only the header is read, which
// is also why header-only files work as test fixtures. [CompactTensors]
// folds per-layer and per-expert tensors into patterns with a Count.
//
// # Errors
//
// Errors wrap sentinels for the cases a caller branches on: [ErrNotFound]
// (the message lists where Resolve looked), [ErrGated] (HTTP 401/403: the
// repo is gated or private), [ErrOffline], [ErrHeaderTooLarge],
// [ErrTruncated], [ErrBadHeader]; Hub statuses come as hfmeta/hub's
// *HTTPError, which wraps ErrGated or ErrNotFound. The token never appears
// in an error.
//
// # What it does not do
//
// It reads no environment variable (the command passes os.Getenv to
// [CacheDirFromEnv] and [OfflineFromEnv] and fills [Client]), asks no
// network itself (only Remote does), prints
// nothing, writes nothing to the cache, does not expand "~" in a ref, does
// not read the token file huggingface-cli login writes, and does not read
// pytorch_model.bin, GGUF or other weight formats: such models get their
// weights derived from the config by the estimator.
package hfmeta
