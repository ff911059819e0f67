package maildirbackend

import (
	"os"
	"path/filepath"
	"time"
)

// dirStamp is what a complete scan of a folder knew of its cur/ and new/
// directories: their modification times just before it read them. Every
// rename into or out of a directory, and every unlink in it, moves its
// time, so a stamp that still matches means the scan's listing is the
// disk's. The zero stamp matches nothing.
type dirStamp struct{ cur, new time.Time }

// stampSettle: a directory that changed less than this before a scan read
// it may change again within the same timestamp tick (the kernel's coarse
// clock; a second on some file systems) without its time moving. The scan
// then keeps no stamp, and the next SELECT, EXAMINE or STATUS scans again.
const stampSettle = time.Second

// readDirStamp returns the modification times of path's cur/ and new/, the
// zero stamp when either cannot be read.
func readDirStamp(path string) dirStamp {
	cur, err := os.Stat(filepath.Join(path, "cur"))
	if err != nil {
		return dirStamp{}
	}
	nw, err := os.Stat(filepath.Join(path, "new"))
	if err != nil {
		return dirStamp{}
	}
	return dirStamp{cur: cur.ModTime(), new: nw.ModTime()}
}

// settled returns s, or the zero stamp when a directory changed within
// stampSettle before now.
func (s dirStamp) settled(now time.Time) dirStamp {
	if now.Sub(s.cur) < stampSettle || now.Sub(s.new) < stampSettle {
		return dirStamp{}
	}
	return s
}

// scannedLocked records the stamp st, read before a complete scan that
// succeeded.
func (f *folder) scannedLocked(st dirStamp) {
	f.scanned = st.settled(time.Now())
}

// refreshLocked rescans a loaded folder whose cur/ or new/ changed since
// its last complete scan: SELECT, EXAMINE and STATUS then answer from the
// disk as it is, also when the watcher has not reported another program's
// change yet (or a sync goroutine has taken the report and not applied
// it), as Dovecot's sync on those commands does. Without a change it
// costs two stats.
func (f *folder) refreshLocked() error {
	if !f.loaded || f.gone {
		return nil
	}
	if st := readDirStamp(f.path); st != (dirStamp{}) && st == f.scanned {
		return nil
	}
	return f.syncLocked()
}
