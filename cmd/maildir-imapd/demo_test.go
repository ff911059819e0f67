package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// startDemo runs the demo in-process on 127.0.0.1:0 and returns what it
// printed and its listen address, and a function that stops it.
func startDemo(t *testing.T, dir string) (printed, addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &syncBuffer{}, &syncBuffer{}
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- demoMain(ctx, []string{"--dir", dir, "--listen", "127.0.0.1:0"}, out, logs, func(d *daemon) { ready <- d })
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(waitLimit):
			t.Error("demo did not stop")
		}
	}
	t.Cleanup(stop)
	select {
	case d := <-ready:
		addr, _ = d.Addrs()
	case err := <-done:
		stopped = true
		t.Fatalf("demo: %v\n%s", err, logs.String())
	case <-time.After(waitLimit):
		t.Fatal("demo did not start")
	}
	return out.String(), addr, stop
}

var passwordLine = regexp.MustCompile(`Password:\s+(\S+)`)

func TestDemo_createsTreeAndServes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	printed, addr, stop := startDemo(t, dir)
	m := passwordLine.FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("no password in:\n%s", printed)
	}
	password := m[1]
	maildir := filepath.Join(dir, "Maildir")
	for _, w := range []string{
		"curl --url 'imap://" + addr + "/' --user 'demo:" + password + "'",
		"curl --url 'imap://" + addr + "/INBOX;UID=1' --user 'demo:" + password + "'",
		"tail --addr " + addr + " --user demo --password-file " + filepath.Join(dir, "password") +
			" --starttls --ca-file " + filepath.Join(dir, "cert.pem") + " --maildir " + maildir,
		`mutt -n -F /dev/null -e 'set certificate_file="` + filepath.Join(dir, "cert.pem") + `" imap_pass="` + password +
			`" folder="imap://demo@` + addr + `/"`,
		"> " + filepath.Join(maildir, "tmp") + "/msg.$$ && mv " + filepath.Join(maildir, "tmp") + "/msg.$$ " +
			filepath.Join(maildir, "new") + "/$(date +%s).$$.demo",
	} {
		if !strings.Contains(printed, w) {
			t.Errorf("output lacks %q:\n%s", w, printed)
		}
	}
	for _, f := range []string{".Sent", ".Drafts", ".Trash", ".Archive", ".Work.Projects"} {
		if err := maildirProblem(filepath.Join(maildir, f)); err != nil {
			t.Errorf("folder %s: %v", f, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(maildir, "tmp")); len(tmp) != 0 {
		t.Errorf("files left in tmp/: %v", tmp)
	}

	c := dialPlain(t, addr)
	if err := c.Login(demoUser, password).Wait(); err != nil {
		t.Fatalf("LOGIN with the printed password: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 6 {
		t.Errorf("INBOX has %d messages, want 6", sel.NumMessages)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6), &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	var seen, flagged int
	for _, msg := range msgs {
		subjects = append(subjects, msg.Envelope.Subject)
		seen += boolInt(slices.Contains(msg.Flags, imap.FlagSeen))
		flagged += boolInt(slices.Contains(msg.Flags, imap.FlagFlagged))
	}
	if !slices.Contains(subjects, "Zażółć gęślą jaźń: spotkanie w piątek ☕") || !slices.Contains(subjects, "Quarterly report") {
		t.Errorf("subjects = %q", subjects)
	}
	if seen != 3 || flagged != 2 {
		t.Errorf("%d seen and %d flagged, want 3 and 2", seen, flagged)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	for _, want := range []string{"INBOX", "Sent", "Drafts", "Trash", "Archive", "Work.Projects"} {
		if !slices.Contains(names, want) {
			t.Errorf("LIST lacks %q: %q", want, names)
		}
	}
	c.Logout().Wait()
	stop()

	// A second run reuses the tree with a new password.
	printed2, addr2, _ := startDemo(t, dir)
	m2 := passwordLine.FindStringSubmatch(printed2)
	if m2 == nil || m2[1] == password {
		t.Fatalf("second run did not print a new password:\n%s", printed2)
	}
	if !strings.Contains(printed2, "(reused;") {
		t.Errorf("second run did not reuse the tree:\n%s", printed2)
	}
	c2 := dialPlain(t, addr2)
	if err := c2.Login(demoUser, password).Wait(); err == nil {
		t.Error("the old password still works")
	}
	if err := c2.Login(demoUser, m2[1]).Wait(); err != nil {
		t.Fatalf("LOGIN with the new password: %v", err)
	}
	if sel, err := c2.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 6 {
		t.Errorf("second run: SELECT INBOX = %v, %v; want 6 messages", sel, err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
