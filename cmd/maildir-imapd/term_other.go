//go:build !linux

package main

import "os"

// disableEcho does nothing on this platform: the password is echoed.
func disableEcho(f *os.File) (restore func()) { return func() {} }

// isTerminal reports whether f is a character device (most likely a
// terminal).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
