package dovecot

import (
	"os"
	"syscall"
	"time"
)

// datasync flushes f's data (fdatasync(2), as Dovecot does after an append).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// fileState is what the dotlock staleness check compares: inode, mtime,
// ctime and size.
type fileState struct {
	exists       bool
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

func stateOf(fi os.FileInfo) fileState {
	s := fileState{exists: true, size: fi.Size(), mtime: fi.ModTime(), ctime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
		s.ctime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return s
}

// processGone reports whether kill(pid, 0) says no such process exists.
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
