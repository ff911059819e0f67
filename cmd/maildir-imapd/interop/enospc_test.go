package interop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"
)

// mountSmallFS mounts a 512 KiB tmpfs at dir, owned by the mail owner, and
// unmounts it at cleanup.
func mountSmallFS(t *testing.T, o mailOwner, dir string) {
	t.Helper()
	requireRoot(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (root without CAP_SYS_ADMIN?): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})
	o.chown(t, dir)
}

// fill writes a file at path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the file system: %v", err)
			}
			return
		}
	}
}

// lmtpSend sends one message to rcpt over the unix socket sock and returns
// the reply to the end of data.
func lmtpSend(t *testing.T, sock, rcpt, msg string) error {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatalf("RCPT: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, err = w.CloseWithLMTPResponse()
	return err
}

// TestFullDisk_lmtpAndDeliver: on a full file system an LMTP delivery is
// answered 452 4.3.1 and `deliver` exits 75 (EX_TEMPFAIL), both leaving
// nothing in tmp/ or new/; once there is room, the same delivery succeeds.
func TestFullDisk_lmtpAndDeliver(t *testing.T) {
	o := owner(t)
	dir := sharedDir(t)
	small := filepath.Join(dir, "small")
	mountSmallFS(t, o, small)
	if err := os.Mkdir(filepath.Join(small, "alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	o.chown(t, filepath.Join(small, "alice"))
	maildir := filepath.Join(small, "alice", "Maildir")
	o.mkMaildir(t, maildir)
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	o.chown(t, run)
	users := filepath.Join(dir, "users")
	writeFile(t, users, fmt.Sprintf("alice:{PLAIN}%s::::::\n", testPass))
	location := "maildir:" + small + "/%n/Maildir"
	sock := filepath.Join(run, "lmtp")
	mi := startImapdArgs(t, o, []string{"serve", "--listen", "127.0.0.1:0", "--users", users,
		"--mail-location", location, "--lmtp-listen", sock})

	filler := filepath.Join(small, "filler")
	fill(t, filler)
	msg := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 1000)
	err := lmtpSend(t, sock, "alice@example.test", msg)
	var le smtp.LMTPDataError
	if !errors.As(err, &le) || le["alice@example.test"] == nil || le["alice@example.test"].Code != 452 ||
		le["alice@example.test"].EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Fatalf("LMTP on a full disk: %v, want 452 4.3.1", err)
	}
	cmd := exec.Command(binary, "deliver", "--users", users, "--mail-location", location, "-d", "alice")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.credential()}
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 75 {
		t.Fatalf("deliver on a full disk: %v, want exit 75\n%s", err, out)
	}
	for _, sub := range []string{"tmp", "new"} {
		if entries, _ := os.ReadDir(filepath.Join(maildir, sub)); len(entries) != 0 {
			t.Fatalf("%s/ has %d files after the failed deliveries", sub, len(entries))
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := lmtpSend(t, sock, "alice@example.test", msg); err != nil {
		t.Fatalf("LMTP with room again: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(maildir, "new")); len(entries) != 1 {
		t.Fatalf("new/ has %d files, want 1", len(entries))
	}
	mi.Stop(t)
}
