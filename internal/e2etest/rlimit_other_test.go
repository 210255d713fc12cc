//go:build !unix

package e2etest

// openFileLimit is a conservative guess where there is no RLIMIT_NOFILE.
func openFileLimit() uint64 { return 1024 }
