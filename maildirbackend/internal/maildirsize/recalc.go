package maildirsize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Sum adds up the messages in new/ and cur/ of each folder (a Maildir
// directory) the way Dovecot's maildir_sum_dir does: every entry but "."
// and "..", sized by the ",S=<n>" of its name, else by stat. It also
// returns the latest modification time of the directories it read. A
// folder or directory that is missing counts nothing; a file that vanishes
// between the listing and its stat counts nothing.
func Sum(folders []string) (Usage, time.Time, error) {
	var (
		u      Usage
		latest time.Time
	)
	for _, folder := range folders {
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(folder, sub)
			mtime, err := sumDir(dir, &u)
			if err != nil {
				return Usage{}, time.Time{}, err
			}
			if mtime.After(latest) {
				latest = mtime
			}
		}
	}
	return u, latest, nil
}

// sumDir adds the messages of one directory to u and returns the
// directory's mtime (zero when it does not exist).
func sumDir(dir string, u *Usage) (time.Time, error) {
	d, err := os.Open(dir)
	if err != nil {
		if gone(err) {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("maildirsize: %w", err)
	}
	defer d.Close()
	st, err := d.Stat()
	if err != nil {
		return time.Time{}, fmt.Errorf("maildirsize: %w", err)
	}
	if !st.IsDir() {
		return time.Time{}, nil
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return time.Time{}, fmt.Errorf("maildirsize: read %s: %w", dir, err)
	}
	for _, name := range names {
		if n, ok := NameSize(name); ok {
			u.Bytes += n
			u.Count++
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			if gone(err) {
				continue
			}
			return time.Time{}, fmt.Errorf("maildirsize: %w", err)
		}
		u.Bytes += fi.Size()
		u.Count++
	}
	return st.ModTime(), nil
}

// gone reports whether err says a path is not there (or not a directory).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ESTALE)
}

// NameSize returns the size a file name carries in ",S=<n>", followed by
// ':' or ',' or the end of the name, as Dovecot reads it.
func NameSize(name string) (int64, bool) {
	i := strings.Index(name, ",S=")
	if i < 0 {
		return 0, false
	}
	rest := name[i+3:]
	var n int64
	j := 0
	for ; j < len(rest) && rest[j] >= '0' && rest[j] <= '9'; j++ {
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + int64(rest[j]-'0')
	}
	if j < len(rest) && rest[j] != ':' && rest[j] != ',' {
		return 0, false
	}
	return n, true
}

// Changed reports whether new/ or cur/ of a folder was modified after t:
// a scan that saw such a change may have missed a message.
func Changed(folders []string, t time.Time) bool {
	for _, folder := range folders {
		for _, sub := range []string{"new", "cur"} {
			st, err := os.Stat(filepath.Join(folder, sub))
			if err == nil && st.ModTime().After(t) {
				return true
			}
		}
	}
	return false
}

// Write replaces the file at path with the header of l and one line of u,
// written under a temporary name in the same directory and renamed over
// it, so that a reader sees the old file or the new one.
func Write(path string, l Limits, u Usage) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), Name+".tmp.*")
	if err != nil {
		return fmt.Errorf("maildirsize: %w", err)
	}
	content := fmt.Sprintf("%s\n%d %d\n", l, u.Bytes, u.Count)
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("maildirsize: write: %w", err)
	}
	return nil
}

// Recalculate counts the folders and, unless one of them changed during
// the count, replaces the file at path with l and the count, as Dovecot's
// maildirsize_recalculate does. It returns the count either way, and
// whether the file was written.
func Recalculate(path string, l Limits, folders []string) (Usage, bool, error) {
	u, latest, err := Sum(folders)
	if err != nil {
		return Usage{}, false, err
	}
	if Changed(folders, latest) {
		return u, false, nil
	}
	if err := Write(path, l, u); err != nil {
		return u, false, err
	}
	return u, true, nil
}
