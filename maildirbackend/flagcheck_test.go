package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// appendCmd is an APPEND of a small message with a non-synchronizing
// literal (LITERAL+), for rawSession.
func appendCmd(flags string) string {
	msg := maildirtest.Message("appended")
	return fmt.Sprintf("APPEND INBOX (%s) {%d+}\r\n%s", flags, len(msg), msg)
}

// tagged returns the tagged answer of command i of a rawSession.
func tagged(t *testing.T, lines []string, i int) string {
	t.Helper()
	tag := fmt.Sprintf("t%d ", i)
	for _, l := range lines {
		if strings.HasPrefix(l, tag) {
			return strings.TrimPrefix(l, tag)
		}
	}
	t.Fatalf("no answer to command %d:\n%s", i, strings.Join(lines, "\n"))
	return ""
}

// countMessages counts the message files of a folder.
func countMessages(t *testing.T, folder string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

func TestSession_invalidSystemFlags(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	key := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("one"))
	tests := []struct {
		name, cmd, want string
	}{
		{"store unknown", `STORE 1 +FLAGS (\Bogus)`, `BAD [CLIENTBUG] Invalid system flag \Bogus`},
		{"store recent", `STORE 1 FLAGS (\Recent)`, `BAD [CLIENTBUG] Invalid system flag \Recent`},
		{"store wildcard", `STORE 1 +FLAGS (\*)`, `BAD [CLIENTBUG] Invalid system flag \*`},
		{"store unknown with a valid one", `STORE 1 +FLAGS (\Seen \Junk)`, `BAD [CLIENTBUG] Invalid system flag \Junk`},
		{"store any case", `STORE 1 +FLAGS.SILENT (\fLAGGED)`, `OK STORE completed`},
		{"append unknown", appendCmd(`\Bogus`), `BAD [CLIENTBUG] Invalid system flag \Bogus`},
		{"append recent", appendCmd(`\Seen \Recent`), `BAD [CLIENTBUG] Invalid system flag \Recent`},
	}
	cmds := []string{"LOGIN alice secret", "SELECT INBOX"}
	for _, tc := range tests {
		cmds = append(cmds, tc.cmd)
	}
	cmds = append(cmds, "NOOP")
	lines := rawSession(t, s.Addr, cmds...)
	for i, tc := range tests {
		if got := tagged(t, lines, i+2); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := maildirtest.Find(t, s.Maildir, key); !strings.HasSuffix(got, ":2,F") {
		t.Errorf("refused STOREs changed the message: %s", got)
	}
	if n := countMessages(t, s.Maildir); n != 1 {
		t.Errorf("refused APPENDs stored messages: %d files", n)
	}
}

func TestSession_keywordLimits(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("one"))
	// A long keyword another program put in dovecot-keywords stays usable.
	known := strings.Repeat("K", 80)
	if err := os.WriteFile(filepath.Join(s.Maildir, "dovecot-keywords"), []byte("0 "+known+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("k", 40000)
	max := strings.Repeat("m", 50)
	tests := []struct {
		name, cmd, want string
	}{
		{"store 40000 bytes", `STORE 1 +FLAGS (` + huge + `)`, `NO [CANNOT] Keyword length too long`},
		{"store 51 bytes", `STORE 1 +FLAGS (` + max + `x)`, `NO [CANNOT] Keyword length too long`},
		{"store 8bit", "STORE 1 +FLAGS (caf\xc3\xa9)", `BAD [CLIENTBUG] Error in IMAP command STORE: 8bit data in atom`},
		{"remove unknown long", `STORE 1 -FLAGS (` + max + `x)`, `NO [CANNOT] Keyword length too long`},
		{"append 40000 bytes", appendCmd(`\Seen ` + huge), `NO [CANNOT] Keyword length too long`},
		{"append 8bit", appendCmd("\xc3\xa9t\xc3\xa9"), `BAD [CLIENTBUG] Error in IMAP command APPEND: 8bit data in atom`},
		{"store 50 bytes", `STORE 1 +FLAGS.SILENT (` + max + `)`, `OK STORE completed`},
		{"store known long", `STORE 1 +FLAGS.SILENT (` + known + `)`, `OK STORE completed`},
	}
	cmds := []string{"LOGIN alice secret", "SELECT INBOX"}
	for _, tc := range tests {
		cmds = append(cmds, tc.cmd)
	}
	cmds = append(cmds, "NOOP")
	lines := rawSession(t, s.Addr, cmds...)
	for i, tc := range tests {
		if got := tagged(t, lines, i+2); got != tc.want {
			t.Errorf("%s: got %.80q, want %q", tc.name, got, tc.want)
		}
	}
	if got := tagged(t, lines, len(cmds)-1); !strings.HasPrefix(got, "OK") {
		t.Errorf("connection unusable after refused keywords: %q", got)
	}
	kw, err := os.ReadFile(filepath.Join(s.Maildir, "dovecot-keywords"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0 " + known + "\n1 " + max + "\n"; string(kw) != want {
		t.Errorf("dovecot-keywords:\n%.200s\nwant:\n%s", kw, want)
	}
	if n := countMessages(t, s.Maildir); n != 1 {
		t.Errorf("refused APPENDs stored messages: %d files", n)
	}
}

// TestSession_clientMistakesAnswerCleanly sends client mistakes that reach
// the backend (go-imap parses the command, the backend refuses it): each
// gets a tagged NO or BAD with the connection kept, never NO [SERVERBUG].
// The mistakes go-imap itself answers with SERVERBUG (invalid modified
// UTF-7 mailbox names and LIST patterns, sequence sets with 0, invalid
// dates) are not here: they never reach the backend.
func TestSession_clientMistakesAnswerCleanly(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("one"))
	long := strings.Repeat("x", 300)
	tests := []struct{ cmd, want string }{
		{`CREATE "&AAE-"`, "NO [CANNOT]"}, // U+0001 in modified UTF-7
		{`CREATE "a/b"`, "NO [CANNOT]"},
		{`CREATE "a..b"`, "NO [CANNOT]"},
		{`CREATE "` + long + `"`, "NO [CANNOT]"},
		{`DELETE "a/b"`, "NO"},
		{`RENAME "a/b" "c"`, "NO"},
		{`RENAME INBOX "a%b"`, "NO [CANNOT]"},
		{`SUBSCRIBE "a*b"`, "NO [CANNOT]"},
		{`STATUS "a/b" (MESSAGES)`, "NO"},
		{`SELECT "` + long + `"`, "NO [CANNOT]"},
		{`APPEND "a/b" {3+}` + "\r\nabc", "NO"},
		{`APPEND Nope {3+}` + "\r\nabc", "NO [TRYCREATE]"},
		{`SELECT INBOX`, "OK"},
		{`FETCH 2 FLAGS`, "BAD"},
		{`STORE 1 +FLAGS (\Recent)`, "BAD"},
		{`COPY 1 "a/b"`, "NO"},
		{`MOVE 1 Nope`, "NO [TRYCREATE]"},
		{`SEARCH CHARSET X-UNKNOWN ALL`, "NO [BADCHARSET"},
		{`EXAMINE INBOX`, "OK"},
		{`STORE 1 +FLAGS (\Seen)`, "NO [READ-ONLY]"},
		{`UID EXPUNGE 1`, "NO [READ-ONLY]"},
		// go-imap calls the same Expunge for CLOSE and EXPUNGE, so a
		// read-only EXPUNGE can only do nothing and answer OK.
		{`EXPUNGE`, "OK"},
		{`NOOP`, "OK"},
	}
	cmds := []string{"LOGIN alice secret"}
	for _, tc := range tests {
		cmds = append(cmds, tc.cmd)
	}
	lines := rawSession(t, s.Addr, cmds...)
	for i, tc := range tests {
		got := tagged(t, lines, i+1)
		if !strings.HasPrefix(got, tc.want) || strings.Contains(got, "SERVERBUG") {
			t.Errorf("%.60s: got %q, want %s", tc.cmd, got, tc.want)
		}
	}
}
