package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// mailFile is one message file of a Maildir folder on disk.
type mailFile struct {
	Path  string
	Sub   string // "new" or "cur"
	Key   string // base name before the info separator
	Info  string // after ":2," ("" when none)
	Body  string
	Plain string // Body normalised for comparison, see normalize
}

// makeMaildir creates a Maildir++ tree at root: the INBOX directories and
// one ".name" folder per name (with the maildirfolder marker).
func makeMaildir(t *testing.T, root string, folders ...string) {
	t.Helper()
	dirs := []string{root}
	for _, f := range folders {
		dirs = append(dirs, filepath.Join(root, "."+f))
	}
	for _, d := range dirs {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if d != root {
			if err := os.WriteFile(filepath.Join(d, "maildirfolder"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// message returns an RFC 5322 message with LF line endings, as Postfix's
// local delivery writes it.
func message(subject, body string) string {
	return fmt.Sprintf("From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\n"+
		"Subject: %s\nDate: Mon, 02 Jan 2006 15:04:05 +0000\nMessage-ID: <%s@example.org>\n"+
		"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\n",
		subject, strings.ReplaceAll(strings.ToLower(subject), " ", "."), body)
}

var keySeq atomic.Int64

// newKey returns a unique Maildir base name.
func newKey() string {
	return fmt.Sprintf("%d.M%dP%d.e2e", time.Now().Unix(), keySeq.Add(1), os.Getpid())
}

// putMessage writes a message file directly into folder/sub (an existing
// mailbox's content, before the daemon starts). info is the part after
// ":2," and is only used in cur/.
func putMessage(t *testing.T, folder, sub, info, content string) string {
	t.Helper()
	name := newKey()
	if sub == "cur" {
		name += ":2," + info
	}
	p := filepath.Join(folder, sub, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deliver delivers content into folder as an MTA does: write into tmp/,
// fsync, rename into new/. It returns the path in new/.
func deliver(t testing.TB, folder, content string) string {
	t.Helper()
	name := newKey()
	tmp := filepath.Join(folder, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(folder, "new", name)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// readFolder lists the messages of a Maildir folder (new/ and cur/),
// sorted by normalised body. The info separator is ":" (Maildir++; mbsync
// uses it too on Linux).
func readFolder(t *testing.T, folder string) []mailFile {
	t.Helper()
	var out []mailFile
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			t.Fatalf("read folder: %v", err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(folder, sub, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			key, info, _ := strings.Cut(e.Name(), ":")
			info = strings.TrimPrefix(info, "2,")
			out = append(out, mailFile{Path: p, Sub: sub, Key: key, Info: info,
				Body: string(data), Plain: normalize(string(data))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Plain < out[j].Plain })
	return out
}

// normalize makes a message comparable across a sync: CRLF becomes LF (IMAP
// uses CRLF, Maildir files LF) and mbsync's X-TUID header is dropped.
func normalize(s string) string {
	return stripTUID(strings.ReplaceAll(s, "\r\n", "\n"))
}

// stripTUID drops the X-TUID header that mbsync adds to the messages it
// uploads (isync 1.4 adds it even when the server has UIDPLUS).
func stripTUID(s string) string {
	var b strings.Builder
	header := true
	for _, line := range strings.SplitAfter(s, "\n") {
		if header && strings.HasPrefix(line, "X-TUID: ") {
			continue
		}
		if line == "\n" || line == "\r\n" {
			header = false
		}
		b.WriteString(line)
	}
	return b.String()
}

// flagLetters returns the uppercase (system flag) letters of a Maildir info
// string, sorted: "FSa" gives "FS".
func flagLetters(info string) string {
	var l []byte
	for i := 0; i < len(info); i++ {
		if c := info[i]; c >= 'A' && c <= 'Z' {
			l = append(l, c)
		}
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return string(l)
}

// findBySubject returns the message whose Subject header is subject.
func findBySubject(t *testing.T, msgs []mailFile, subject string) mailFile {
	t.Helper()
	for _, m := range msgs {
		if hasSubject(m.Plain, subject) {
			return m
		}
	}
	t.Fatalf("no message with subject %q among %d", subject, len(msgs))
	return mailFile{}
}

// plains returns the normalised bodies of msgs.
func plains(msgs []mailFile) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Plain
	}
	return out
}

// hasSubject reports whether the normalised message has the Subject header
// subject (the test messages never start with Subject).
func hasSubject(plain, subject string) bool {
	head, _, _ := strings.Cut(plain, "\n\n")
	return strings.Contains(head+"\n", "\nSubject: "+subject+"\n")
}
