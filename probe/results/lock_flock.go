//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package results

import (
	"errors"
	"os"
	"syscall"
)

// errWouldBlock: another open file description holds the lock.
var errWouldBlock = syscall.EWOULDBLOCK

// lock takes f's exclusive flock(2) without waiting. The lock goes with
// the open file, so it is released when f is closed, also by the kernel
// when the process dies (kill -9).
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
