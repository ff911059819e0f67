package interop

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// world is one side of the differential test: a server (Dovecot or
// maildir-imapd) on its own copy of the initial Maildir, the sessions of
// the test user on it, and what those sessions were told.
type world struct {
	name   string // "dovecot" or "maildir-imapd"
	t      *testing.T
	acct   *account
	dc     *dovecot // one of dc, mi
	mi     *imapd
	sess   []*session
	uv     map[string]string // UIDVALIDITY value → symbol (docs/differences.md, row "UIDVALIDITY")
	log    *transcript
	faults int // Dovecot world: crashes of its imap processes and index corruptions seen in its log (diff_crash_test.go)
}

// session is one connection and the client's model of its selected
// mailbox, built only from untagged responses.
type session struct {
	w        *wconn
	selected string // mailbox name; "" when not selected
	readOnly bool
	msgs     []msgModel // by sequence number - 1
	flags    string     // the last untagged FLAGS, canonical
	byes     int        // times the server ended this session (it was reconnected)
	mark     string     // HIGHESTMODSEQ of markBox when a MARK step took it (diff_condstore_test.go)
	markBox  string
	markUV   string // UIDVALIDITY of markBox then
	markUIDs string // the UIDs the session had then, as a set
}

// msgModel is what a session was told about one message.
type msgModel struct {
	uid   string // "" until told
	flags string // canonical, without \Recent; "?" until told
}

// transcript keeps the last lines a world's sessions sent and received.
type transcript struct {
	lines []string
	max   int
}

func (tr *transcript) add(s string) {
	tr.lines = append(tr.lines, s)
	if len(tr.lines) > tr.max {
		tr.lines = tr.lines[len(tr.lines)-tr.max:]
	}
}

func (tr *transcript) String() string { return strings.Join(tr.lines, "\n") }

// newWorld starts a server of kind name on a copy of the Maildir template
// and connects n sessions.
func newWorld(t *testing.T, name, template string, n int) (*world, error) {
	a := newAccount(t)
	if err := copyTree(template, a.maildir, a.owner); err != nil {
		return nil, err
	}
	if name == "dovecot" {
		if err := addUserdbField(a.users, diffDovecotField); err != nil {
			return nil, err
		}
	}
	w := &world{name: name, t: t, acct: a, uv: make(map[string]string), log: &transcript{max: *diffTrace}}
	w.start()
	for i := 0; i < n; i++ {
		s, err := w.connect(i)
		if err != nil {
			return nil, err
		}
		w.sess = append(w.sess, s)
	}
	return w, nil
}

// diffDovecotField is a userdb extra field of the test user for the
// differential test's Dovecot (docs/differences.md, "reference
// configuration"): without the mailbox list index Dovecot lists the folders
// on disk on every LIST, so that a folder another program creates shows at
// once, as in maildir-imapd.
const diffDovecotField = "userdb_mailbox_list_index=no"

// addUserdbField appends an extra field to every line of a passwd-file
// (user:password:uid:gid:gecos:home:shell:extra).
func addUserdbField(path, field string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.HasSuffix(l, ":") {
			l += field
		} else {
			l += " " + field
		}
		out = append(out, l)
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}

// start starts the server.
func (w *world) start() {
	if w.name == "dovecot" {
		w.dc = startDovecot(w.t, w.acct)
	} else {
		w.mi = startImapd(w.t, w.acct)
	}
}

func (w *world) addr() string {
	if w.dc != nil {
		return w.dc.Addr
	}
	return w.mi.Addr
}

// connect opens session i.
func (w *world) connect(i int) (*session, error) {
	c, err := dialRaw(w.addr(), func(dir, line string) {
		w.log.add(fmt.Sprintf("s%d %s: %s", i, dir, line))
	})
	if err != nil {
		return nil, fmt.Errorf("%s session %d: %w", w.name, i, err)
	}
	return &session{w: c}, nil
}

// restart logs every session out, restarts the server (maildir-imapd
// always, Dovecot when both is set) and connects the sessions again.
func (w *world) restart(both bool) error {
	for _, s := range w.sess {
		s.w.close()
	}
	if w.mi != nil {
		w.mi.Stop(w.t)
		w.mi.CheckLog(w.t)
		w.start()
	} else if both {
		w.dc.Stop(w.t)
		w.start()
	}
	for i := range w.sess {
		s, err := w.connect(i)
		if err != nil {
			return err
		}
		w.sess[i] = s
	}
	return nil
}

// stop ends the sessions and the server.
func (w *world) stop() {
	for _, s := range w.sess {
		s.w.close()
	}
	if w.mi != nil {
		w.mi.Stop(w.t)
		w.mi.CheckLog(w.t)
	} else {
		w.dc.Stop(w.t)
	}
}

// symUV maps a UIDVALIDITY value to its symbol: UV1 for the first value
// this world saw, UV2 for the next new one, and so on.
func (w *world) symUV(v string) string {
	if s, ok := w.uv[v]; ok {
		return s
	}
	s := fmt.Sprintf("UV%d", len(w.uv)+1)
	w.uv[v] = s
	return s
}

// copyTree copies the directory tree src to dst (which may exist), with
// modification times, owned by o.
func copyTree(src, dst string, o mailOwner) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			if err := os.MkdirAll(to, 0o700); err != nil {
				return err
			}
		} else if err := copyFile(path, to); err != nil {
			return err
		}
		if o.root {
			if err := os.Lchown(to, o.uid, o.gid); err != nil {
				return fmt.Errorf("chown: %w", err)
			}
		}
		return os.Chtimes(to, fi.ModTime(), fi.ModTime())
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}

// writeMessageFile writes a message file with modification time mtime,
// owned by o.
func writeMessageFile(path string, body []byte, mtime time.Time, o mailOwner) error {
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return err
	}
	if o.root {
		if err := os.Chown(path, o.uid, o.gid); err != nil {
			return err
		}
	}
	return os.Chtimes(path, mtime, mtime)
}
