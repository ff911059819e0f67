package maildirbackend_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// unwatched gives a server whose watcher never reports a change by itself
// (folders polled once an hour, no safety check): only Deliver's own
// announcement can push a delivery.
func unwatched(t *testing.T, bo maildirbackend.Options) *maildirtest.Server {
	return maildirtest.NewServer(t, &maildirtest.Options{
		Backend: bo,
		Watch:   watch.Options{MaxWatches: 1, PollInterval: time.Hour, SafetyInterval: -1},
	})
}

// onlyFile returns the single file name in dir.
func onlyFile(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%s has %d entries, want 1", dir, len(entries))
	}
	return entries[0].Name()
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%s has %d entries left, want none", dir, len(entries))
	}
}

var sizeRE = regexp.MustCompile(`,S=(\d+),W=(\d+)$`)

func TestDeliver_pushesWithoutWatcher(t *testing.T) {
	s := unwatched(t, maildirbackend.Options{})
	rec, opts := newPushRecorder()
	c := s.Dial(t, opts)
	idleCmd := idleIn(t, c, "INBOX")
	defer idleCmd.Close()

	msg := "Subject: hi\r\n\r\nline one\r\nline two\r\n"
	mailbox, err := s.Backend.Deliver(s.Maildir, "", strings.NewReader(msg))
	if err != nil || mailbox != "INBOX" {
		t.Fatalf("Deliver = %q, %v; want INBOX", mailbox, err)
	}
	if n := wait(t, rec.exists, "EXISTS"); n != 1 {
		t.Fatalf("* %d EXISTS, want 1", n)
	}
	name := onlyFile(t, filepath.Join(s.Maildir, "new"))
	emptyDir(t, filepath.Join(s.Maildir, "tmp"))
	data, err := os.ReadFile(filepath.Join(s.Maildir, "new", name))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(msg, "\r\n", "\n")
	if string(data) != want {
		t.Fatalf("stored %q, want %q (LF line endings)", data, want)
	}
	m := sizeRE.FindStringSubmatch(name)
	if m == nil || m[1] != strconv.Itoa(len(want)) || m[2] != strconv.Itoa(len(msg)) {
		t.Fatalf("file name %q: want ,S=%d,W=%d", name, len(want), len(msg))
	}
}

func TestDeliver_mailboxAndFallback(t *testing.T) {
	tests := []struct {
		name, prefix, mailbox, want string
	}{
		{"existing", "", "Work", "Work"},
		{"missing falls back", "", "Nope", "INBOX"},
		{"invalid name falls back", "", "../x", "INBOX"},
		{"inbox", "", "inbox", "INBOX"},
		{"courier prefix added", "INBOX.", "Work", "INBOX.Work"},
		{"courier prefix given", "INBOX.", "INBOX.Work", "INBOX.Work"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := unwatched(t, maildirbackend.Options{Prefix: tc.prefix})
			for _, d := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(s.Maildir, ".Work", d), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Backend.Deliver(s.Maildir, tc.mailbox, strings.NewReader("Subject: x\n\nx\n"))
			if err != nil || got != tc.want {
				t.Fatalf("Deliver(%q) = %q, %v; want %q", tc.mailbox, got, err, tc.want)
			}
			dir := s.Maildir
			if strings.HasSuffix(tc.want, "Work") {
				dir = filepath.Join(s.Maildir, ".Work")
			}
			onlyFile(t, filepath.Join(dir, "new"))
		})
	}
}

func TestDeliver_tooBigLeavesNothing(t *testing.T) {
	s := unwatched(t, maildirbackend.Options{AppendLimit: 100})
	_, err := s.Backend.Deliver(s.Maildir, "", strings.NewReader(strings.Repeat("x", 101)))
	if !errors.Is(err, maildirbackend.ErrMessageTooBig) {
		t.Fatalf("Deliver of 101 bytes over a 100-byte limit: %v, want ErrMessageTooBig", err)
	}
	emptyDir(t, filepath.Join(s.Maildir, "tmp"))
	emptyDir(t, filepath.Join(s.Maildir, "new"))
	// The limit is on the bytes given, CRLF included: a message that only
	// fits once stored with LF is refused, not truncated.
	_, err = s.Backend.Deliver(s.Maildir, "", strings.NewReader(strings.Repeat("x\r\n", 40)))
	if !errors.Is(err, maildirbackend.ErrMessageTooBig) {
		t.Fatalf("Deliver of 120 CRLF bytes (80 stored) over a 100-byte limit: %v, want ErrMessageTooBig", err)
	}
	emptyDir(t, filepath.Join(s.Maildir, "new"))
	if _, err := s.Backend.Deliver(s.Maildir, "", strings.NewReader(strings.Repeat("x", 100))); err != nil {
		t.Fatalf("Deliver of 100 bytes: %v", err)
	}
}

func TestDeliver_createsMissingMaildir(t *testing.T) {
	s := unwatched(t, maildirbackend.Options{})
	root := filepath.Join(t.TempDir(), "new-user", "Maildir")
	if _, err := s.Backend.Deliver(root, "", strings.NewReader("Subject: x\n\nx\n")); err != nil {
		t.Fatal(err)
	}
	onlyFile(t, filepath.Join(root, "new"))
}

func TestDeliver_relativeRootRefused(t *testing.T) {
	s := unwatched(t, maildirbackend.Options{})
	if _, err := s.Backend.Deliver("Maildir", "", strings.NewReader("x")); err == nil {
		t.Fatal("Deliver to a relative root succeeded")
	}
}

// errReader fails after its data.
type errReader struct{ data string }

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("connection lost")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDeliver_readErrorLeavesNothing(t *testing.T) {
	s := unwatched(t, maildirbackend.Options{})
	if _, err := s.Backend.Deliver(s.Maildir, "", &errReader{data: "Subject: x\n\npartial"}); err == nil {
		t.Fatal("Deliver of a broken stream succeeded")
	}
	emptyDir(t, filepath.Join(s.Maildir, "tmp"))
	emptyDir(t, filepath.Join(s.Maildir, "new"))
}
