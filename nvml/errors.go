package nvml

import (
	"errors"
	"fmt"
)

// ErrNoDevice means the index names no device of the sampler. Sample wraps
// it with the index ("nvml: sample device 9: no such device").
var ErrNoDevice = errors.New("nvml: no such device")

// markedError carries its own message but matches a sentinel (ErrUnavailable
// or ErrNoDevice) and its cause with errors.Is and errors.As, so messages
// read "nvml: sample device 0: unavailable: GPU is lost" rather than
// repeating the sentinel's "nvml:" prefix.
type markedError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *markedError) Error() string { return e.msg }

func (e *markedError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}

// Unavailable returns an error matching ErrUnavailable (and cause, when not
// nil) whose message is the formatted context, "unavailable", then cause.
func Unavailable(cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...) + ": unavailable"
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return &markedError{msg: msg, sentinel: ErrUnavailable, cause: cause}
}

// NoDevice returns the error Sample gives for an unknown index.
func NoDevice(index int) error {
	return &markedError{
		msg:      fmt.Sprintf("nvml: sample device %d: no such device", index),
		sentinel: ErrNoDevice,
	}
}
