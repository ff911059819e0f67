//go:build linux

package watch

import "syscall"

// statSig stats path; ok is false if that fails.
func statSig(path string) (sig dirSig, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return dirSig{}, false
	}
	return dirSig{
		exists: true,
		dev:    uint64(st.Dev),
		ino:    st.Ino,
		size:   st.Size,
		mtime:  st.Mtim.Nano(),
		ctime:  st.Ctim.Nano(),
	}, true
}
