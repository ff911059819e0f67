package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// outside is an action of another program on the Maildir, done the same
// way on both worlds' copies. Messages are chosen by their rank in UID
// order (from dovecot-uidlist; files without a UID come last, by name), as
// file names of appended messages differ between the servers.
type outside struct {
	Action string // deliver, flag, unlink, rmdir, mkdir, uidlist
	Folder string // mailbox name as sent (modified UTF-7)
	K      int    // rank of the message (modulo the count)
	Info   string // flag letters for "flag"
	Msg    int    // pool message for "deliver"
	Step   int    // makes delivered file names unique and equal on both sides
}

func (o *outside) String() string {
	switch o.Action {
	case "deliver":
		return fmt.Sprintf("deliver message %d into %q", o.Msg, o.Folder)
	case "flag":
		return fmt.Sprintf("rename message #%d of %q to info %q", o.K, o.Folder, o.Info)
	case "unlink":
		return fmt.Sprintf("unlink message #%d of %q", o.K, o.Folder)
	case "rmdir":
		return fmt.Sprintf("rm -rf the folder of %q", o.Folder)
	case "mkdir":
		return fmt.Sprintf("mkdir the folder of %q", o.Folder)
	}
	return fmt.Sprintf("rewrite dovecot-uidlist of %q without the entries of missing files", o.Folder)
}

// folderDir is the Maildir++ folder of an IMAP name.
func folderDir(maildir, name string) string {
	if strings.EqualFold(name, "INBOX") {
		return maildir
	}
	return filepath.Join(maildir, "."+name)
}

// deliveryTime is the modification time (internal date) of delivered
// messages; step s delivers at deliveryTime + s seconds.
var deliveryTime = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

// apply does the action on w's Maildir and returns what happened, which
// must be the same on both worlds.
func (o *outside) apply(w *world, pool [][]byte) (string, error) {
	dir := folderDir(w.acct.maildir, o.Folder)
	exists := isDir(filepath.Join(dir, "cur"))
	switch o.Action {
	case "mkdir":
		if exists {
			return "exists", nil
		}
		for _, d := range []string{"", "cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				return "", err
			}
			w.acct.owner.chown(w.t, filepath.Join(dir, d))
		}
		return "created", writeMessageFile(filepath.Join(dir, "maildirfolder"), nil, time.Now(), w.acct.owner)
	case "rmdir":
		if !exists || dir == w.acct.maildir {
			return "no folder", nil
		}
		return "removed", os.RemoveAll(dir)
	}
	if !exists {
		return "no folder", nil
	}
	r, err := o.change(dir, w, pool)
	if err == nil && (r == "delivered" || r == "unlinked" || r == "renamed") {
		err = o.markChanged(dir)
	}
	return r, err
}

// markChanged sets the modification time of dir's cur/ and new/ to a past
// second of this step's own (docs/differences.md, "a change in the second
// of Dovecot's last look"): Dovecot 2.3 compares these times in whole
// seconds and misses a change made in the second it last synced the
// folder, until the folder changes again. The times are distinct for
// every step and never a current one, so both servers see each change.
func (o *outside) markChanged(dir string) error {
	mt := time.Unix(1_000_000_000+int64(o.Step), 0)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(dir, sub), time.Time{}, mt); err != nil {
			return fmt.Errorf("mark %s changed: %w", sub, err)
		}
	}
	return nil
}

// change does a deliver, flag, unlink or uidlist action on the folder at
// dir, which exists.
func (o *outside) change(dir string, w *world, pool [][]byte) (string, error) {
	if o.Action == "deliver" {
		name := fmt.Sprintf("%d.M%dP1.oracle", deliveryTime.Unix()+int64(o.Step), o.Step)
		tmp := filepath.Join(dir, "tmp", name)
		if err := writeMessageFile(tmp, pool[o.Msg], deliveryTime.Add(time.Duration(o.Step)*time.Second), w.acct.owner); err != nil {
			return "", err
		}
		return "delivered", os.Rename(tmp, filepath.Join(dir, "new", name))
	}
	if o.Action == "uidlist" {
		return rewriteUIDList(dir, w.acct.owner)
	}
	msgs, err := byUID(dir)
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "no message", nil
	}
	m := msgs[o.K%len(msgs)]
	if o.Action == "unlink" {
		return "unlinked", os.Remove(m.path(dir))
	}
	return "renamed", setInfo(dir, m, o.Info)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// uidList reads a folder's dovecot-uidlist: header line and base name →
// (UID, line).
func uidList(dir string) (header string, uids map[string]int, lines map[string]string, err error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-uidlist"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", map[string]int{}, map[string]string{}, nil
	}
	if err != nil {
		return "", nil, nil, err
	}
	defer f.Close()
	uids, lines = make(map[string]int), make(map[string]string)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for first := true; sc.Scan(); first = false {
		l := sc.Text()
		if first {
			header = l
			continue
		}
		i := strings.Index(l, " :")
		if i < 0 {
			continue
		}
		num, _, _ := strings.Cut(l, " ")
		uid, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		base, _, _ := strings.Cut(l[i+2:], ":")
		uids[base], lines[base] = uid, l
	}
	return header, uids, lines, sc.Err()
}

// byUID lists a folder's messages in UID order; files without a UID come
// last, by name.
func byUID(dir string) ([]diskMessage, error) {
	files, _, err := scanFolder(dir)
	if err != nil {
		return nil, err
	}
	_, uids, _, err := uidList(dir)
	if err != nil {
		return nil, err
	}
	out := make([]diskMessage, 0, len(files))
	for _, m := range files {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := uids[out[i].base], uids[out[j].base]
		if (a == 0) != (b == 0) {
			return a != 0
		}
		if a != b {
			return a < b
		}
		return out[i].base < out[j].base
	})
	return out, nil
}

// rewriteUIDList rewrites dir's dovecot-uidlist without the records of
// files that are gone, under dovecot-uidlist.lock, as another Dovecot
// compacting it would: its header's next UID is the one that Dovecot read,
// above every record it read, dropped ones included (records appended
// since the header was last written leave the header's N stale; dropping
// the last of them must not lower the next UID).
func rewriteUIDList(dir string, o mailOwner) (string, error) {
	header, _, lines, err := uidList(dir)
	if err != nil || header == "" {
		return "no uidlist", err
	}
	files, _, err := scanFolder(dir)
	if err != nil {
		return "", err
	}
	type rec struct {
		uid  int
		line string
	}
	var recs []rec
	maxUID := 0
	for base, l := range lines {
		n, _ := strconv.Atoi(strings.Fields(l)[0])
		maxUID = max(maxUID, n)
		if _, ok := files[base]; ok {
			recs = append(recs, rec{n, l})
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].uid < recs[j].uid })
	var b strings.Builder
	b.WriteString(nextUIDHeader(header, maxUID+1) + "\n")
	for _, r := range recs {
		b.WriteString(r.line + "\n")
	}
	lock := filepath.Join(dir, "dovecot-uidlist.lock")
	// Wait for a lock another process holds, as Dovecot would (it waits
	// up to two minutes; between steps no server should hold it at all).
	var f *os.File
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f, err = os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || time.Now().After(end) {
			fi, _ := os.Stat(lock)
			if fi != nil {
				return "", fmt.Errorf("lock uidlist: %w (modified %v ago, %d bytes)", err, time.Since(fi.ModTime()), fi.Size())
			}
			return "", fmt.Errorf("lock uidlist: %w", err)
		}
	}
	f.Close()
	if err := writeMessageFile(lock, []byte(b.String()), time.Now(), o); err != nil {
		return "", err
	}
	return "rewritten", os.Rename(lock, filepath.Join(dir, "dovecot-uidlist"))
}

// nextUIDHeader returns a version 3 dovecot-uidlist header line with its
// N field raised to at least next.
func nextUIDHeader(header string, next int) string {
	f := strings.Fields(header)
	found := false
	for i, kv := range f {
		if i == 0 || !strings.HasPrefix(kv, "N") {
			continue
		}
		found = true
		if n, err := strconv.Atoi(kv[1:]); err == nil && n < next {
			f[i] = "N" + strconv.Itoa(next)
		}
	}
	if !found && len(f) > 0 && f[0] == "3" {
		f = append(f, "N"+strconv.Itoa(next))
	}
	return strings.Join(f, " ")
}
