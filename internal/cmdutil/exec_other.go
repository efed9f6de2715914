//go:build !unix

package cmdutil

// replaceProcess cannot replace the process here (Windows, js/wasm): the
// caller runs the companion as a child instead.
func replaceProcess(string, []string) (bool, error) { return false, nil }
