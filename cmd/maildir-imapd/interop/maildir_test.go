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
	"sync"
	"syscall"
	"time"
)

// keyHeader carries each test message's identity, so that messages can be
// matched across servers and the disk whatever their UIDs.
const keyHeader = "X-Interop-Key"

// testMessage returns an RFC 5322 message with LF line ends (as an MTA
// stores it) identified by key.
func testMessage(key string) string {
	return fmt.Sprintf("From: MTA <mta@example.org>\nTo: %s@example.test\nSubject: interop %s\n"+
		"Date: Mon, 02 Jun 2025 10:00:00 +0000\nMessage-ID: <%s@interop.test>\n%s: %s\n\nbody of %s\n",
		testUser, key, key, keyHeader, key, key)
}

// crlf converts LF line ends to CRLF, as a message goes over IMAP.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// mta delivers like Postfix's local(8)/virtual(8): the message is written
// into tmp/, fsynced, owned by the mail owner, linked into new/ under a
// Postfix-style name <sec>.V<dev>I<ino>M<usec>.<host> and unlinked from
// tmp/. It is safe for concurrent use.
type mta struct {
	owner mailOwner

	mu   sync.Mutex
	n    int
	keys map[string]string // base name → key of every delivered message
}

func newMTA(o mailOwner) *mta { return &mta{owner: o, keys: make(map[string]string)} }

// deliver delivers the message with key into the Maildir folder dir and
// returns its base name.
func (m *mta) deliver(dir, key string) (string, error) {
	m.mu.Lock()
	m.n++
	n := m.n
	m.mu.Unlock()
	now := time.Now()
	tmp := filepath.Join(dir, "tmp", fmt.Sprintf("%d.P%dQ%d.interop", now.Unix(), os.Getpid(), n))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("deliver %s: %w", key, err)
	}
	_, err = f.WriteString(testMessage(key))
	if err == nil {
		err = f.Sync()
	}
	if err == nil && m.owner.root {
		err = f.Chown(m.owner.uid, m.owner.gid)
	}
	var st syscall.Stat_t
	if err == nil {
		err = syscall.Fstat(int(f.Fd()), &st)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("deliver %s: %w", key, err)
	}
	base := fmt.Sprintf("%d.V%xI%xM%d.interop", now.Unix(), st.Dev, st.Ino, now.Nanosecond()/1000)
	// Record the key before the file appears: another actor may unlink it
	// the moment it is in new/.
	m.mu.Lock()
	m.keys[base] = key
	m.mu.Unlock()
	if err := os.Link(tmp, filepath.Join(dir, "new", base)); err != nil {
		return "", fmt.Errorf("deliver %s: %w", key, err)
	}
	if err := os.Remove(tmp); err != nil {
		return "", fmt.Errorf("deliver %s: %w", key, err)
	}
	return base, nil
}

// key returns the key of a delivered base name.
func (m *mta) key(base string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[base]
	return k, ok
}

// diskMessage is one message file of a folder.
type diskMessage struct {
	sub  string // "new" or "cur"
	name string // file name
	base string // the key: name up to the first ':'
	info string // flag letters after ":2,", "" without info
}

// path returns the message's path in folder dir.
func (m diskMessage) path(dir string) string { return filepath.Join(dir, m.sub, m.name) }

// scanFolder lists the messages of the Maildir folder dir by base name.
// A base name found twice is listed in dups with the cur/ entry kept: while
// a server moves files from new/ to cur/, a scan can see a file in both
// (readdir of new/, rename, readdir of cur/), so only a duplicate that
// persists is a fault.
func scanFolder(dir string) (msgs map[string]diskMessage, dups []string, err error) {
	out := make(map[string]diskMessage)
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			m := diskMessage{sub: sub, name: name, base: name}
			if i := strings.IndexByte(name, ':'); i >= 0 {
				m.base = name[:i]
				if rest, ok := strings.CutPrefix(name[i+1:], "2,"); ok {
					m.info, _, _ = strings.Cut(rest, ",")
				}
			}
			if old, dup := out[m.base]; dup {
				dups = append(dups, fmt.Sprintf("base name %s twice: %s/%s and %s/%s",
					m.base, old.sub, old.name, sub, name))
			}
			out[m.base] = m
		}
	}
	return out, dups, nil
}

// readKeywords reads the folder's dovecot-keywords: letter → keyword.
func readKeywords(dir string) (map[byte]string, error) {
	out := make(map[byte]string)
	f, err := os.Open(filepath.Join(dir, "dovecot-keywords"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idx, name, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n >= 26 || name == "" {
			continue
		}
		out[byte('a'+n)] = name
	}
	return out, sc.Err()
}

// diskFlags turns info letters into IMAP flags, sorted. An unknown keyword
// letter becomes "?<letter>" so that it never matches a server's answer.
func diskFlags(info string, kw map[byte]string) []string {
	std := map[byte]string{'D': `\Draft`, 'F': `\Flagged`, 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}
	var out []string
	for i := 0; i < len(info); i++ {
		c := info[i]
		switch {
		case std[c] != "":
			out = append(out, std[c])
		case c >= 'a' && c <= 'z':
			if name, ok := kw[c]; ok {
				out = append(out, name)
			} else {
				out = append(out, "?"+string(c))
			}
		}
	}
	sort.Strings(out)
	return out
}

// setInfo renames message m of folder dir to carry the flag letters info
// (moving it to cur/), as a MUA working on the Maildir does.
func setInfo(dir string, m diskMessage, info string) error {
	letters := []byte(info)
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	to := filepath.Join(dir, "cur", m.base+":2,"+string(letters))
	return os.Rename(m.path(dir), to)
}
