//go:build unix

package main

import "syscall"

// defaultMaxConnections is max_connections when it is 0: three quarters of
// the open-file limit (which Go raises to the hard limit at start), so that
// a flood of connections leaves descriptors for the Maildir files and the
// listeners. -1 (no cap) when the limit is unknown or unlimited.
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<30 {
		return -1
	}
	return int(rl.Cur / 4 * 3)
}
