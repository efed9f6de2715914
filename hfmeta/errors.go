package hfmeta

import "errors"

// Sentinel errors. Every error the package returns wraps at most a few of
// these, so callers branch with errors.Is and show the message as is.
var (
	// ErrNotFound means the model (or a file the source requires, such as
	// config.json) is in none of the places looked at. Resolve's message
	// lists those places.
	ErrNotFound = errors.New("model not found")
	// ErrGated means the Hub answered 401 or 403: the repo is gated or
	// private and the request carried no token, or one without access
	// (package hfmeta/hub returns it; it is here so that callers branch on
	// it without linking the Hub client).
	ErrGated = errors.New("gated or private repo")
	// ErrOffline means the Hub was not asked because Client.Offline is set.
	ErrOffline = errors.New("offline mode, the hub was not asked")
	// ErrHeaderTooLarge means a safetensors header declares a length above
	// MaxHeaderSize. Nothing of that size is allocated.
	ErrHeaderTooLarge = errors.New("safetensors header too large")
	// ErrTruncated means a file ends before its safetensors header does:
	// shorter than the 8-byte length prefix, or shorter than 8+N.
	ErrTruncated = errors.New("safetensors header truncated")
	// ErrFileTooLarge means config.json or the safetensors index is larger
	// than MaxConfigSize or MaxIndexSize. Nothing past the limit is read.
	ErrFileTooLarge = errors.New("file too large")
	// ErrBadHeader means the safetensors header is not valid: bad JSON, an
	// unknown dtype, or data offsets that disagree with shape and dtype.
	ErrBadHeader = errors.New("bad safetensors header")
)
