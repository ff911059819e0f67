package lmtp_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// setup starts a backend whose watcher never reports a change by itself
// (so that only the LMTP delivery's own announcement pushes) and an LMTP
// server on a unix socket for alice@example.org. It returns the server and
// the socket path.
func setup(t *testing.T, opts lmtp.Options) (*maildirtest.Server, string) {
	t.Helper()
	return setupWith(t, opts, maildirbackend.Options{})
}

// setupWith is setup with backend options.
func setupWith(t *testing.T, opts lmtp.Options, bo maildirbackend.Options) (*maildirtest.Server, string) {
	t.Helper()
	s := maildirtest.NewServer(t, &maildirtest.Options{
		Backend: bo,
		Watch:   watch.Options{MaxWatches: 1, PollInterval: time.Hour, SafetyInterval: -1},
	})
	opts.Lookup = func(addr string) (string, string, error) {
		if strings.EqualFold(addr, "alice@example.org") {
			return "alice", s.Maildir, nil
		}
		return "", "", lmtp.ErrUnknownUser
	}
	opts.Deliver = s.Backend.Deliver
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	srv := lmtp.New(&opts)
	sock := filepath.Join(t.TempDir(), "lmtp")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, sock
}

// send runs one LMTP transaction and returns the RCPT errors by address
// and the per-recipient replies after DATA.
func send(t *testing.T, sock string, rcpts []string, msg string) (map[string]error, map[string]*smtp.DataResponse, error) {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@example.net", nil); err != nil {
		t.Fatal(err)
	}
	refused := make(map[string]error)
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			refused[r] = err
		}
	}
	w, err := c.Data()
	if err != nil {
		return refused, nil, err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	return refused, resp, err
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestLMTP_perRecipientAndPush(t *testing.T) {
	s, sock := setup(t, lmtp.Options{})
	exists := make(chan uint32, 10)
	c := s.Dial(t, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idleCmd, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idleCmd.Close()

	refused, resp, err := send(t, sock, []string{"alice@example.org", "nobody@example.org", "ALICE+x@example.org"},
		"Subject: hello\r\n\r\nbody\r\n")
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if code := smtpCode(refused["nobody@example.org"]); code != 550 || len(refused) != 1 {
		t.Fatalf("RCPT refusals %v: want only nobody@ with 550", refused)
	}
	if len(resp) != 2 {
		t.Fatalf("%d replies after DATA, want 2: %v", len(resp), resp)
	}
	for _, n := range []uint32{1, 2} {
		select {
		case got := <-exists:
			if got != n {
				t.Fatalf("* %d EXISTS, want %d", got, n)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no * %d EXISTS: the delivery did not reach the IDLE client", n)
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.Maildir, "new"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("new/ has %d files (%v), want 2", len(entries), err)
	}
	data, err := os.ReadFile(filepath.Join(s.Maildir, "new", entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "Return-Path: <bob@example.net>\nDelivered-To: ") {
		t.Fatalf("stored message lacks Return-Path/Delivered-To:\n%s", data)
	}
}

func TestLMTP_detailMailbox(t *testing.T) {
	tests := []struct {
		name   string
		detail bool
		rcpt   string
		folder string // "" for INBOX
	}{
		{"detail into folder", true, "alice+Work@example.org", ".Work"},
		{"missing folder falls back", true, "alice+Nope@example.org", ""},
		{"option off", false, "alice+Work@example.org", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sock := setup(t, lmtp.Options{DetailMailbox: tc.detail})
			for _, d := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(s.Maildir, ".Work", d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			refused, _, err := send(t, sock, []string{tc.rcpt}, "Subject: x\r\n\r\nx\r\n")
			if err != nil || len(refused) > 0 {
				t.Fatalf("send: %v %v", err, refused)
			}
			entries, err := os.ReadDir(filepath.Join(s.Maildir, tc.folder, "new"))
			if err != nil || len(entries) != 1 {
				t.Fatalf("%s/new has %d files (%v), want 1", tc.folder, len(entries), err)
			}
		})
	}
}

func TestLMTP_tooBig(t *testing.T) {
	s, sock := setup(t, lmtp.Options{MaxMessageBytes: 1000})
	_, _, err := send(t, sock, []string{"alice@example.org"}, "Subject: x\r\n\r\n"+strings.Repeat("xxxxxxxxx\r\n", 200))
	var le smtp.LMTPDataError
	if !errors.As(err, &le) || smtpCode(le["alice@example.org"]) != 552 {
		t.Fatalf("DATA of 2000 bytes over 1000: %v, want 552 for alice", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Maildir, "tmp"))
	if len(entries) != 0 {
		t.Fatalf("tmp/ has %d files left", len(entries))
	}
}

// TestLMTP_largeSpooled: a message larger than the memory spool goes
// through the temporary file to both copies intact.
func TestLMTP_largeSpooled(t *testing.T) {
	s, sock := setup(t, lmtp.Options{MaxMessageBytes: maildirbackend.DefaultAppendLimit})
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 8000) // 512 KB
	refused, _, err := send(t, sock, []string{"alice@example.org", "alice@example.org"}, "Subject: big\r\n\r\n"+body)
	if err != nil || len(refused) > 0 {
		t.Fatalf("send: %v %v", err, refused)
	}
	entries, err := os.ReadDir(filepath.Join(s.Maildir, "new"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("new/ has %d files (%v), want 2", len(entries), err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(s.Maildir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(string(data), strings.ReplaceAll(body, "\r\n", "\n")) {
			t.Fatalf("%s: body damaged (%d bytes)", e.Name(), len(data))
		}
	}
}

func TestSplitDetail(t *testing.T) {
	tests := []struct {
		name, addr, delim, user, detail string
	}{
		{"plus", "alice+work@example.org", "+", "alice@example.org", "work"},
		{"none", "alice@example.org", "+", "alice@example.org", ""},
		{"no domain", "alice+work", "+", "alice", "work"},
		{"first delimiter", "alice+a+b@example.org", "+", "alice@example.org", "a+b"},
		{"several delimiters", "alice-work@example.org", "+-", "alice@example.org", "work"},
		{"leading delimiter", "+work@example.org", "+", "+work@example.org", ""},
		{"delimiter in domain only", "alice@ex+ample.org", "+", "alice@ex+ample.org", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, detail := lmtp.SplitDetail(tc.addr, tc.delim)
			if user != tc.user || detail != tc.detail {
				t.Fatalf("SplitDetail(%q, %q) = %q, %q; want %q, %q", tc.addr, tc.delim, user, detail, tc.user, tc.detail)
			}
		})
	}
}
