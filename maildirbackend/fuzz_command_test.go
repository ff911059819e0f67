package maildirbackend

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzCommandLine sends arbitrary command lines to a real server, logged
// in with a mailbox selected, and checks that it neither panics nor hangs:
// after the line, a NOOP is answered, or the connection is closed. Run it
// with go test -fuzz FuzzCommandLine ./maildirbackend; its seed corpus runs
// with every go test.
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
		"a UID SEARCH OR (FROM x) (NOT TO y) LARGER 10",
		`a LIST "" "***********************************************Q"`,
		`a LIST "" "&'+,-"`,
		"a STORE 1 +FLAGS (\\Bogus $kw)",
		"a CREATE {3}\r\na\x01b",
		"a APPEND INBOX {5+}\r\nhello",
		"a SELECT \"INBOX\" (CONDSTORE)",
		"a FETCH 0 FLAGS",
		"a SEARCH 1:* 1:* 1:* NOT NOT NOT ALL",
		"a COPY 1 \"\"",
		"a RENAME INBOX INBOX",
		"a ID (\"name\" \"x\")",
		"a NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge)) (subtree (INBOX X) (MessageNew MessageExpunge FlagChange MailboxName))",
		"a NOTIFY SET (personal (MessageNew (UID) MessageExpunge)) (mailboxes {1}\r\nX NONE)",
		strings.Repeat("(", 200),
	} {
		f.Add(seed)
	}
	log := &panicLog{}
	// The login throttle is not under test: fuzzed LOGIN and AUTHENTICATE
	// lines fail, and their delays would pile up behind each other.
	s := newListServerLog(f, &Options{AuthFailureDelay: -1, IPAuthFailures: -1}, log)
	c := s.dial(f)
	if err := c.Create("X", nil).Wait(); err != nil {
		f.Fatal(err)
	}
	if _, err := appendMsg(c, "INBOX", "Subject: fuzz\r\n\r\nbody\r\n"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n") && !strings.Contains(line, "\r\n") {
			line = strings.ReplaceAll(line, "\n", "\r\n")
		}
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(conn)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("greeting: %v", err)
		}
		send := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		send("l LOGIN u p")
		send("s SELECT INBOX")
		send(line)
		// An empty line first: a line that ends with a literal continues
		// after it, and would take the NOOP as its own arguments.
		send("")
		send("zz9 NOOP")
		defer func() {
			if p := log.take(); p != "" {
				t.Fatalf("the server panicked on %q:\n%s", line, p)
			}
		}()
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("no answer to NOOP after %q: the server hangs", line)
				}
				return // closed: a clean end for a line it refused
			}
			if strings.HasPrefix(l, "zz9 ") {
				return
			}
		}
	})
}

// panicLog is a server log that keeps the lines reporting a recovered
// panic, for the fuzz target to fail on.
type panicLog struct {
	mu     sync.Mutex
	panics strings.Builder
}

func (l *panicLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "panic") {
		l.mu.Lock()
		l.panics.Write(p)
		l.mu.Unlock()
	}
	return len(p), nil
}

// take returns and forgets what was logged.
func (l *panicLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.panics.String()
	l.panics.Reset()
	return s
}
