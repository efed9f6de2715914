//go:build unix

package cmdutil

import (
	"os"
	"syscall"
)

// replaceProcess replaces this process with path (execve); it returns
// only on failure.
func replaceProcess(path string, argv []string) (bool, error) {
	return true, syscall.Exec(path, argv, os.Environ())
}
