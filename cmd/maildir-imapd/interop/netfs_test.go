package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestNetworkFS_deliveryFromAnotherHostPushes: a Maildir on a FUSE mount
// (bindfs, standing for NFS, sshfs or glusterfs: statfs says FUSE) is found
// to be on a network file system and polled every poll interval from the
// start. A delivery written beside the mount, into the directory it mirrors
// (as another NFS client writes to the server), produces no inotify event on
// the mount; the IDLE client still gets EXISTS within a few poll intervals,
// long before the 30 s safety check. The folder is logged once.
func TestNetworkFS_deliveryFromAnotherHostPushes(t *testing.T) {
	requireRoot(t)
	bindfs := requireTool(t, "bindfs", "bindfs")
	o := owner(t)
	dir := sharedDir(t)
	src, mnt := filepath.Join(dir, "server"), filepath.Join(dir, "mnt")
	for _, d := range []string{src, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		o.chown(t, d)
	}
	o.mkMaildir(t, filepath.Join(src, "Maildir"))
	// As root, bindfs mounts with allow_other: the server (the mail
	// owner) can use the mount.
	if out, err := exec.Command(bindfs, src, mnt).CombinedOutput(); err != nil {
		t.Fatalf("bindfs (is /dev/fuse there?): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v\n%s", err, out)
		}
	})

	const poll = 200 * time.Millisecond
	mi := startImapdArgs(t, o, []string{"serve", "--listen", "127.0.0.1:0", "--maildir", filepath.Join(mnt, "Maildir"),
		"--user", testUser, "--password-hash", "{PLAIN}" + testPass, "--poll-interval", poll.String(), "--log-level", "debug"})
	exists := make(chan uint32, 16)
	c, err := imapclient.DialInsecure(mi.Addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Close, not LOGOUT: a test that fails during IDLE would wait forever.
	t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	m := newMTA(o)
	for i := uint32(1); i <= 2; i++ {
		idle, err := c.Idle()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.deliver(filepath.Join(src, "Maildir"), fmt.Sprintf("netfs-%d", i)); err != nil {
			t.Fatal(err)
		}
		// Well under the safety check (30 s): only the poll finds it.
		select {
		case n := <-exists:
			if n != i {
				t.Fatalf("* %d EXISTS, want %d", n, i)
			}
		case <-time.After(25 * poll):
			t.Fatalf("no * %d EXISTS within %v of a delivery on the other side of the mount", i, 25*poll)
		}
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	logout(t, c)
	mi.Stop(t)
	// check tells the operator.
	out, _ := exec.Command(binary, "check", "--listen", "127.0.0.1:143", "--maildir", filepath.Join(mnt, "Maildir"),
		"--user", testUser, "--password-hash", "{PLAIN}"+testPass).CombinedOutput()
	if !strings.Contains(string(out), "is on a network file system (fuse)") {
		t.Errorf("check does not report the network file system:\n%s", out)
	}
	log := mi.proc.output.String()
	if n := strings.Count(log, "folder on a network file system"); n != 1 || !strings.Contains(log, "fs=fuse") {
		t.Errorf("%d log lines about the network file system (want 1, fs=fuse):\n%s", n, log)
	}
}
