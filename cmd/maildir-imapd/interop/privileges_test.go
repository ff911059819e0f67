package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Issue 8, item 14: a server started as root does each user's file work as
// the users file's uid, or refuses to start when it cannot.

// TestPrivileges_rootDropsToTheMailUID: started as root with users that
// name one uid, the daemon runs as that uid once it listens, and the files
// it writes belong to it.
func TestPrivileges_rootDropsToTheMailUID(t *testing.T) {
	requireRoot(t)
	a := newAccount(t) // the users file names the mail owner's uid and gid
	d := startImapdArgs(t, mailOwner{}, []string{"serve", "--listen", "127.0.0.1:0", "--users", a.users,
		"--mail-location", "maildir:~/Maildir", "--log-level", "debug"})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.proc.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", a.owner.uid, a.owner.uid, a.owner.uid, a.owner.uid)
	if !strings.Contains(string(status), want) {
		t.Fatalf("daemon status lacks %q:\n%s", want, status)
	}
	c := dial(t, d.Addr, nil)
	msg := "Subject: owned\r\n\r\nbody\r\n"
	cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	cmd.Write([]byte(msg))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(a.maildir, "cur", "*"))
	if len(matches) != 1 {
		t.Fatalf("cur/ holds %v", matches)
	}
	fi, err := os.Stat(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != a.owner.uid {
		t.Fatalf("appended file owned by uid %d, want %d", st.Uid, a.owner.uid)
	}
}

// TestPrivileges_rootRefusesSeveralUIDs: users of different system uids
// cannot be served by one process started as root.
func TestPrivileges_rootRefusesSeveralUIDs(t *testing.T) {
	requireRoot(t)
	a := newAccount(t)
	line, err := os.ReadFile(a.users)
	if err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf("bob:{PLAIN}x:%d:%d::%s::\n", a.owner.uid+1, a.owner.gid, a.home)
	writeFile(t, a.users, string(line)+other)
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--users", a.users, "--mail-location", "maildir:~/Maildir")
	done := make(chan struct{})
	var out []byte
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		cmd.Process.Kill()
		t.Fatal("serve started as root with two uids kept running")
	}
	if err == nil || !strings.Contains(string(out), "different uids") {
		t.Fatalf("serve = %v\n%s\nwant a refusal naming the different uids", err, out)
	}
}
