//go:build !linux

package watch

import "os"

// statSig stats path; ok is false if that fails. Outside Linux only the
// portable fields are compared.
func statSig(path string) (sig dirSig, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return dirSig{}, false
	}
	t := fi.ModTime().UnixNano()
	return dirSig{exists: true, size: fi.Size(), mtime: t, ctime: t}, true
}
