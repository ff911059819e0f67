package maildirbackend_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestSearch_programLimits: a program over 1000 keys or 100 levels of NOT
// and OR gets NO [LIMIT]; 1000 "1:*" keys are evaluated as ranges and
// answer every message.
func TestSearch_programLimits(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	for i := 0; i < 50; i++ {
		maildirtest.Deliver(t, s.Maildir, maildirtest.Message(fmt.Sprint("m", i)))
	}
	rc := dialRaw(t, s)
	all := "* SEARCH"
	for i := 1; i <= 50; i++ {
		all += fmt.Sprint(" ", i)
	}
	tests := []struct {
		name, program, want string
	}{
		{"1000 keys", strings.TrimSpace(strings.Repeat("1:* ", 1000)), all + "\r\n"},
		{"1001 keys", strings.TrimSpace(strings.Repeat("1:* ", 1001)), "x NO [LIMIT]"},
		{"uid sets", strings.TrimSpace(strings.Repeat("UID 1:* 2:49 ", 400)), "* SEARCH" + all[8+2:len(all)-3] + "\r\n"},
		{"depth 100", strings.Repeat("NOT ", 100) + "ALL", all + "\r\n"},
		{"depth 101", strings.Repeat("NOT ", 101) + "ALL", "x NO [LIMIT]"},
		{"or depth 101", strings.Repeat("OR SEEN ", 101) + "ALL", "x NO [LIMIT]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := rc.command(t, "SEARCH "+tt.program)
			if !strings.HasPrefix(lines[0], tt.want) {
				t.Fatalf("got %q, want %q", lines, tt.want)
			}
		})
	}
}

// TestSearch_headerAfterLongHeader: header keys match a field that comes
// after 3 MiB of other fields (Received lines of a mail loop, say), and
// the first 2 MiB of a 3 MiB field.
func TestSearch_headerAfterLongHeader(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	var sb strings.Builder
	sb.WriteString("From: a@example.org\nSubject: long\n")
	for sb.Len() < 3<<20 {
		sb.WriteString("Received: from relay.example.org by mx.example.org; Sat, 28 Nov 2026 10:00:00 +0000\n")
	}
	sb.WriteString("X-Late: the needle\nX-Huge: start")
	for i := 0; i < 3<<20/64; i++ {
		sb.WriteString("\n " + strings.Repeat("y", 61))
	}
	sb.WriteString("\n\nbody\n")
	maildirtest.Deliver(t, s.Maildir, sb.String())
	rc := dialRaw(t, s)
	for _, tt := range []struct{ key, want string }{
		{`HEADER X-Late "the needle"`, "* SEARCH 1\r\n"},
		{`HEADER X-Huge "start yyy"`, "* SEARCH 1\r\n"},
		{`HEADER X-Late "other"`, "* SEARCH\r\n"},
		{`TEXT "the needle"`, "* SEARCH 1\r\n"},
	} {
		if lines := rc.command(t, "SEARCH "+tt.key); lines[0] != tt.want {
			t.Errorf("SEARCH %s: %q, want %q", tt.key, lines, tt.want)
		}
	}
}
