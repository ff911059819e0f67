//go:build linux

package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// readOnlyMount bind-mounts dir read-only on a new directory and returns
// it; the mount goes when the test ends. It needs root (CAP_SYS_ADMIN):
// without, the test is skipped, or fails under MAILDIR_IMAPD_E2E_REQUIRE=1.
func readOnlyMount(t *testing.T, dir string) string {
	t.Helper()
	mnt := t.TempDir()
	fail := func(err error) {
		t.Helper()
		msg := fmt.Sprintf("cannot bind-mount a read-only Maildir (needs root): %v", err)
		if os.Getenv("MAILDIR_IMAPD_E2E_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if err := syscall.Mount(dir, mnt, "", syscall.MS_BIND, ""); err != nil {
		fail(err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		fail(err)
	}
	return mnt
}

// TestSession_readOnlyMaildir serves a Maildir on a read-only file system
// whose folders hold messages without a UID (new files in new/, not in
// dovecot-uidlist, or no dovecot-uidlist at all). As Dovecot does, the
// messages get UIDs in memory and the mailbox is served read-only
// (PERMANENTFLAGS (), STORE refused), instead of SELECT failing.
func TestSession_readOnlyMaildir(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp", ".Sub/cur", ".Sub/new", ".Sub/tmp"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	known := maildirtest.Deliver(t, src, maildirtest.Message("known"))
	uidlist := "3 V1700000000 N2 G0123456789abcdef0123456789abcdef\n1 :" + known + "\n"
	if err := os.WriteFile(filepath.Join(src, "dovecot-uidlist"), []byte(uidlist), 0o600); err != nil {
		t.Fatal(err)
	}
	maildirtest.Deliver(t, src, maildirtest.Message("no uid yet"))
	maildirtest.Deliver(t, filepath.Join(src, ".Sub"), maildirtest.Message("no uidlist"))

	mnt := readOnlyMount(t, src)
	s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: mnt})
	lines := rawSession(t, s.Addr, "LOGIN alice secret",
		"SELECT INBOX", "UID FETCH 1:* (UID)", "STORE 1 +FLAGS (\\Seen)", "STATUS Sub (MESSAGES UIDNEXT)",
		"SELECT Sub", "UID FETCH 1:* (UID)")
	all := strings.Join(lines, "\n")
	for i, want := range []string{
		`* 2 EXISTS`, `[UIDVALIDITY 1700000000]`, `[PERMANENTFLAGS ()]`,
		`* 1 FETCH (UID 1)`, `* 2 FETCH (UID 2)`, `t3 NO [READ-ONLY]`,
		`* STATUS Sub (MESSAGES 1 UIDNEXT 2)`, `* 1 EXISTS`, `* 1 FETCH (UID 1)`, `t6 OK`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("want %q (%d):\n%s", want, i, all)
		}
	}
	if strings.Contains(all, "SERVERBUG") || regexp.MustCompile(`t[125] (NO|BAD)`).MatchString(all) {
		t.Errorf("SELECT of a read-only Maildir failed:\n%s", all)
	}
	got, err := os.ReadFile(filepath.Join(src, "dovecot-uidlist"))
	if err != nil || string(got) != uidlist {
		t.Errorf("dovecot-uidlist changed: %q, %v", got, err)
	}

	// A delivery through a writable path to the same directory gets the
	// next UID in memory, pushed like any other.
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	maildirtest.Deliver(t, src, maildirtest.Message("while read-only"))
	deadline := time.Now().Add(10 * time.Second)
	for c.Mailbox().NumMessages < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no EXISTS for the delivery")
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{UIDNext: true}).Wait()
	if err != nil || st.UIDNext != 4 {
		t.Errorf("STATUS UIDNEXT = %v, %v; want 4", st, err)
	}
}
