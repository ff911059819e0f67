package idle_test

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// readDeadline is a failure deadline for reading one line, not a timing
// assertion: every expected line is written at once by the server.
const readDeadline = 30 * time.Second

var errUnsupported = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "not supported by the test session"}

// harness is a real imapserver serving one in-memory mailbox ("INBOX") whose
// sessions delegate update tracking to idle views.
type harness struct {
	t    testing.TB
	mbox *idle.Mailbox
	addr string

	mu    sync.Mutex // the "folder lock": guards flags; Apply runs inside it
	flags map[imap.UID][]imap.Flag

	sessMu    sync.Mutex
	sessions  map[string]*testSession // by client address
	keepEvery time.Duration           // guarded by sessMu
	keepalive func() error            // guarded by sessMu; nil: Idle without keepalive

	// onWritten, set before the first dial, is installed as every view's
	// write observer.
	onWritten func(seen time.Time)
}

func newHarness(t testing.TB, uids []imap.UID, mailboxFlags []imap.Flag) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		mbox:     idle.NewMailbox(uids, mailboxFlags),
		flags:    make(map[imap.UID][]imap.Flag),
		sessions: make(map[string]*testSession),
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession:   h.newSession,
		InsecureAuth: true,
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger:       slog.NewLogLogger(slog.Default().Handler(), slog.LevelError),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go srv.Serve(ln) //nolint:errcheck // returns when Close is called
	t.Cleanup(func() { srv.Close() })
	return h
}

func (h *harness) newSession(conn *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	s := &testSession{h: h}
	h.sessMu.Lock()
	h.sessions[conn.NetConn().RemoteAddr().String()] = s
	h.sessMu.Unlock()
	return s, nil, nil
}

// apply records flags in the store and applies c, as a backend's sync would.
func (h *harness) apply(c idle.Change, from *idle.View) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for uid, f := range c.Flags {
		h.flags[uid] = f
	}
	h.mbox.Apply(c, from)
}

// testSession is a minimal imapserver.Session over the harness mailbox.
type testSession struct {
	h *harness

	mu   sync.Mutex
	view *idle.View
}

func (s *testSession) getView() *idle.View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.view
}

func (s *testSession) Close() error {
	if v := s.getView(); v != nil {
		v.Close()
	}
	return nil
}

func (s *testSession) Login(string, string) error { return nil }

func (s *testSession) Select(string, *imap.SelectOptions) (*imap.SelectData, error) {
	v := s.h.mbox.NewView()
	if s.h.onWritten != nil {
		v.SetWriteObserver(s.h.onWritten)
	}
	s.mu.Lock()
	old := s.view
	s.view = v
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return &imap.SelectData{
		Flags:       s.h.mbox.Flags(),
		NumMessages: uint32(v.Len()),
		UIDNext:     s.h.mbox.MaxUID() + 1,
		UIDValidity: 1,
	}, nil
}

func (s *testSession) Create(string, *imap.CreateOptions) error         { return errUnsupported }
func (s *testSession) Delete(string) error                              { return errUnsupported }
func (s *testSession) Rename(string, string, *imap.RenameOptions) error { return errUnsupported }
func (s *testSession) Subscribe(string) error                           { return errUnsupported }
func (s *testSession) Unsubscribe(string) error                         { return errUnsupported }
func (s *testSession) List(*imapserver.ListWriter, string, []string, *imap.ListOptions) error {
	return nil
}
func (s *testSession) Status(string, *imap.StatusOptions) (*imap.StatusData, error) {
	return nil, errUnsupported
}
func (s *testSession) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, errUnsupported
}
func (s *testSession) Search(imapserver.NumKind, *imap.SearchCriteria, *imap.SearchOptions) (*imap.SearchData, error) {
	return nil, errUnsupported
}
func (s *testSession) Copy(imap.NumSet, string) (*imap.CopyData, error) { return nil, errUnsupported }

func (s *testSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	v := s.getView()
	if v == nil {
		return nil
	}
	return v.Poll(w, allowExpunge)
}

func (s *testSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	v := s.getView()
	if v == nil {
		<-stop
		return nil
	}
	s.h.sessMu.Lock()
	every, keepalive := s.h.keepEvery, s.h.keepalive
	s.h.sessMu.Unlock()
	if keepalive != nil {
		return v.IdleWithKeepalive(w, stop, every, keepalive)
	}
	return v.Idle(w, stop)
}

func (s *testSession) Unselect() error {
	s.mu.Lock()
	v := s.view
	s.view = nil
	s.mu.Unlock()
	if v != nil {
		v.Close()
	}
	return nil
}

func matchNum(numSet imap.NumSet, seq uint32, uid imap.UID) bool {
	switch set := numSet.(type) {
	case imap.SeqSet:
		return set.Contains(seq)
	case imap.UIDSet:
		return set.Contains(uid)
	}
	return false
}

// Expunge removes the \Deleted messages and writes its own EXPUNGEs, highest
// sequence number first, as a backend does.
func (s *testSession) Expunge(w *imapserver.ExpungeWriter, uidSet *imap.UIDSet) error {
	v := s.getView()
	h := s.h
	h.mu.Lock()
	var gone []imap.UID
	var seqs []uint32
	for i, uid := range v.UIDs() {
		if !slices.Contains(h.flags[uid], imap.FlagDeleted) || (uidSet != nil && !uidSet.Contains(uid)) {
			continue
		}
		gone = append(gone, uid)
		seqs = append(seqs, uint32(i+1))
		delete(h.flags, uid)
	}
	h.mbox.Apply(idle.Change{Expunged: gone}, v)
	h.mu.Unlock()
	for i := len(seqs) - 1; i >= 0; i-- {
		if err := w.WriteExpunge(seqs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Fetch writes UID and FLAGS of the requested messages, whatever was asked.
func (s *testSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, _ *imap.FetchOptions) error {
	v := s.getView()
	for i, uid := range v.UIDs() {
		seq := uint32(i + 1)
		if !matchNum(numSet, seq, uid) {
			continue
		}
		s.h.mu.Lock()
		flags := s.h.flags[uid]
		s.h.mu.Unlock()
		m := w.CreateMessage(seq)
		m.WriteUID(uid)
		m.WriteFlags(flags)
		if err := m.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Store changes flags, announces new keywords in the mailbox FLAGS, and
// answers with its own FETCH unless .SILENT.
func (s *testSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, sf *imap.StoreFlags, _ *imap.StoreOptions) error {
	v := s.getView()
	h := s.h
	type result struct {
		seq   uint32
		uid   imap.UID
		flags []imap.Flag
	}
	var results []result
	h.mu.Lock()
	c := idle.Change{Flags: make(map[imap.UID][]imap.Flag)}
	mboxFlags := slices.Clone(h.mbox.Flags())
	for i, uid := range v.UIDs() {
		seq := uint32(i + 1)
		if !matchNum(numSet, seq, uid) {
			continue
		}
		cur := slices.Clone(h.flags[uid])
		switch sf.Op {
		case imap.StoreFlagsSet:
			cur = slices.Clone(sf.Flags)
		case imap.StoreFlagsAdd:
			for _, f := range sf.Flags {
				if !slices.Contains(cur, f) {
					cur = append(cur, f)
				}
			}
		case imap.StoreFlagsDel:
			cur = slices.DeleteFunc(cur, func(f imap.Flag) bool { return slices.Contains(sf.Flags, f) })
		}
		for _, f := range cur {
			if !strings.HasPrefix(string(f), `\`) && !slices.Contains(mboxFlags, f) {
				mboxFlags = append(mboxFlags, f)
				c.MailboxFlags = mboxFlags
			}
		}
		h.flags[uid] = cur
		c.Flags[uid] = cur
		results = append(results, result{seq, uid, cur})
	}
	h.mbox.Apply(c, v)
	h.mu.Unlock()
	if sf.Silent {
		return nil
	}
	for _, r := range results {
		m := w.CreateMessage(r.seq)
		m.WriteUID(r.uid)
		m.WriteFlags(r.flags)
		if err := m.Close(); err != nil {
			return err
		}
	}
	return nil
}

// rawClient speaks IMAP line by line, so that tests see the exact order of
// untagged responses.
type rawClient struct {
	t    testing.TB
	h    *harness
	conn net.Conn
	r    *bufio.Reader
	n    int
	sess *testSession
}

// dial connects, logs in and selects INBOX.
func (h *harness) dial(t testing.TB) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, h: h, conn: conn, r: bufio.NewReader(conn)}
	if greeting := c.readLine(); !strings.HasPrefix(greeting, "* OK") {
		t.Fatalf("greeting %q", greeting)
	}
	h.sessMu.Lock()
	c.sess = h.sessions[conn.LocalAddr().String()]
	h.sessMu.Unlock()
	if c.sess == nil {
		t.Fatal("no session for the connection")
	}
	c.cmd("LOGIN user pass")
	c.cmd("SELECT INBOX")
	return c
}

func (c *rawClient) view() *idle.View { return c.sess.getView() }

func (c *rawClient) readLine() string {
	c.t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(readDeadline)); err != nil {
		c.t.Fatal(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

func (c *rawClient) write(line string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// cmd runs one command, fails unless it ends in OK, and returns the untagged
// responses in order.
func (c *rawClient) cmd(line string) []string {
	c.t.Helper()
	c.n++
	tag := "a" + strconv.Itoa(c.n)
	c.write(tag + " " + line)
	return c.readTagged(tag)
}

func (c *rawClient) readTagged(tag string) []string {
	c.t.Helper()
	var untagged []string
	for {
		l := c.readLine()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				c.t.Fatalf("%s: %s", tag, rest)
			}
			return untagged
		}
		untagged = append(untagged, l)
	}
}

// idle sends IDLE and waits for the continuation request.
func (c *rawClient) idle() {
	c.t.Helper()
	c.write("i IDLE")
	if l := c.readLine(); !strings.HasPrefix(l, "+ ") {
		c.t.Fatalf("IDLE: got %q, want continuation", l)
	}
}

// done ends IDLE and returns the untagged responses before the tagged OK.
func (c *rawClient) done() []string {
	c.t.Helper()
	c.write("DONE")
	return c.readTagged("i")
}

// expectLines reads exactly the lines want.
func (c *rawClient) expectLines(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.readLine(); got != w {
			c.t.Fatalf("got %q, want %q", got, w)
		}
	}
}

// fetchUIDs returns the UIDs of FETCH 1:* in sequence order, checking that
// the sequence numbers are 1..n.
func (c *rawClient) fetchUIDs() []imap.UID {
	c.t.Helper()
	var uids []imap.UID
	for _, l := range c.cmd("FETCH 1:* (UID)") {
		var seq uint32
		var uid imap.UID
		if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d", &seq, &uid); err != nil {
			c.t.Fatalf("unexpected line %q: %v", l, err)
		}
		if int(seq) != len(uids)+1 {
			c.t.Fatalf("FETCH seq %d after %d messages", seq, len(uids))
		}
		uids = append(uids, uid)
	}
	return uids
}

func uidRange(first, last imap.UID) []imap.UID {
	var uids []imap.UID
	for u := first; u <= last; u++ {
		uids = append(uids, u)
	}
	return uids
}

var errKeepalive = errors.New("keepalive stop")
