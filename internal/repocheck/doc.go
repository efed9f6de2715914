// Package repocheck holds checks on the repository itself rather than on
// a package's behaviour. Its test fails when a tracked file carries an
// absolute path of a machine: a workspace, a home or a temporary directory
// (the /work, /root and /tmp trees, /home/<name>/, /Users/<name>/ and
// Windows profiles under C:\Users), which says nothing to a reader on
// another machine and leaks how one was laid out. MachinePaths is the
// detector; the catalog generator uses it too, so that it never writes one.
// Another test fails when a package that light programs link links what it
// must not (net, package probe, NVML; see unlinked in deps_test.go).
package repocheck
