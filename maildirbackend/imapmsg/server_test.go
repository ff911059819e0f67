package imapmsg_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// fetchSession is a minimal real imapserver.Session serving one read-only
// mailbox of in-memory messages (UID = index + 1) through imapmsg, so that
// tests see the exact wire form written by go-imap's encoder.
type fetchSession struct {
	msgs [][]byte
}

var errNotSupported = errors.New("not supported by the test session")

func (s *fetchSession) Close() error                  { return nil }
func (s *fetchSession) Login(user, pass string) error { return nil }
func (s *fetchSession) Select(string, *imap.SelectOptions) (*imap.SelectData, error) {
	return &imap.SelectData{NumMessages: uint32(len(s.msgs)), UIDValidity: 1, UIDNext: imap.UID(len(s.msgs) + 1)}, nil
}
func (s *fetchSession) Create(string, *imap.CreateOptions) error         { return errNotSupported }
func (s *fetchSession) Delete(string) error                              { return errNotSupported }
func (s *fetchSession) Rename(string, string, *imap.RenameOptions) error { return errNotSupported }
func (s *fetchSession) Subscribe(string) error                           { return errNotSupported }
func (s *fetchSession) Unsubscribe(string) error                         { return errNotSupported }
func (s *fetchSession) List(*imapserver.ListWriter, string, []string, *imap.ListOptions) error {
	return errNotSupported
}
func (s *fetchSession) Status(string, *imap.StatusOptions) (*imap.StatusData, error) {
	return nil, errNotSupported
}
func (s *fetchSession) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, errNotSupported
}
func (s *fetchSession) Poll(*imapserver.UpdateWriter, bool) error { return nil }
func (s *fetchSession) Idle(*imapserver.UpdateWriter, <-chan struct{}) error {
	return errNotSupported
}
func (s *fetchSession) Unselect() error                                       { return nil }
func (s *fetchSession) Expunge(*imapserver.ExpungeWriter, *imap.UIDSet) error { return errNotSupported }
func (s *fetchSession) Search(imapserver.NumKind, *imap.SearchCriteria, *imap.SearchOptions) (*imap.SearchData, error) {
	return nil, errNotSupported
}
func (s *fetchSession) Store(*imapserver.FetchWriter, imap.NumSet, *imap.StoreFlags, *imap.StoreOptions) error {
	return errNotSupported
}
func (s *fetchSession) Copy(imap.NumSet, string) (*imap.CopyData, error) { return nil, errNotSupported }

func (s *fetchSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	uidSet, ok := numSet.(imap.UIDSet)
	if !ok {
		return errNotSupported
	}
	for i, raw := range s.msgs {
		uid := imap.UID(i + 1)
		if !uidSet.Contains(uid) {
			continue
		}
		p, err := imapmsg.Parse(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		mw := w.CreateMessage(uint32(i + 1))
		mw.WriteUID(uid)
		if options.Envelope {
			mw.WriteEnvelope(p.Envelope)
		}
		if options.BodyStructure != nil {
			mw.WriteBodyStructure(p.BodyStructure)
		}
		if options.RFC822Size {
			mw.WriteRFC822Size(p.Size)
		}
		for _, sec := range options.BodySection {
			data, err := imapmsg.Section(bytes.NewReader(raw), sec)
			if err != nil {
				return err
			}
			wc := mw.WriteBodySection(sec, int64(len(data)))
			if _, err := wc.Write(data); err != nil {
				return err
			}
			if err := wc.Close(); err != nil {
				return err
			}
		}
		if err := mw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// rawClient is a line-level IMAP client that returns responses verbatim.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

// startServer serves msgs on 127.0.0.1 and returns a logged-in client with
// the mailbox selected.
func startServer(t *testing.T, msgs [][]byte) *rawClient {
	t.Helper()
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &fetchSession{msgs: msgs}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() {
		conn.Close()
		srv.Close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
	})
	if _, err := c.readLine(); err != nil { // greeting
		t.Fatal(err)
	}
	c.cmd("LOGIN u p")
	c.cmd("SELECT INBOX")
	return c
}

var literalRE = regexp.MustCompile(`\{(\d+)\}\r\n$`)

// readLine reads one response line, with any literals inlined.
func (c *rawClient) readLine() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var sb strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		sb.WriteString(line)
		m := literalRE.FindStringSubmatch(line)
		if m == nil {
			return strings.TrimSuffix(sb.String(), "\r\n"), nil
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		sb.Write(buf)
	}
}

// cmd sends a command and returns its untagged responses; it fails the test
// unless the command completes with OK.
func (c *rawClient) cmd(command string) []string {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, command); err != nil {
		c.t.Fatal(err)
	}
	var untagged []string
	for {
		line, err := c.readLine()
		if err != nil {
			c.t.Fatalf("%s: %v", command, err)
		}
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line, tag+" OK") {
				c.t.Fatalf("%s: %s", command, line)
			}
			return untagged
		}
		untagged = append(untagged, line)
	}
}

// fetchItem returns the value of item (e.g. "ENVELOPE") in a FETCH
// response line: a parenthesised list, a number or a literal's bytes.
func fetchItem(line, item string) (string, bool) {
	i := strings.Index(line, " "+item+" ")
	if i < 0 {
		return "", false
	}
	s := line[i+len(item)+2:]
	switch {
	case strings.HasPrefix(s, "("):
		return s[:parenEnd(s)], true
	case strings.HasPrefix(s, "{"):
		m := regexp.MustCompile(`^\{(\d+)\}\r\n`).FindStringSubmatch(s)
		if m == nil {
			return "", false
		}
		n, _ := strconv.Atoi(m[1])
		return s[len(m[0]) : len(m[0])+n], true
	default:
		end := strings.IndexAny(s, " )")
		if end < 0 {
			end = len(s)
		}
		return s[:end], true
	}
}

// parenEnd returns the index just past the list that starts s[0] == '(',
// skipping quoted strings.
func parenEnd(s string) int {
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}
