package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Credentials of the one test user, the same in Dovecot and maildir-imapd.
const (
	testUser = "alice"
	testPass = "s3cret"
)

// deadline bounds every wait for a server, a client or a delivery. It only
// fails a test that would otherwise hang; nothing asserts on timing.
const deadline = 30 * time.Second

// binary is the maildir-imapd binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "maildir-imapd-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The binary may run as the mail owner ("nobody" when we are root).
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	binary = filepath.Join(dir, "maildir-imapd")
	// -buildvcs=false: a clone owned by another user makes git refuse to
	// report the VCS status, which would fail the build.
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", binary, "../")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// mailOwner is the uid and gid owning the test Maildirs; Dovecot's mail
// processes, Postfix's virtual(8) and maildir-imapd all run as it.
type mailOwner struct {
	uid, gid int
	name     string // user name (Dovecot's default_login_user when not root)
	root     bool   // the test runs as root: owner is "nobody", not us
}

// owner returns the mail owner: the current user, or "nobody" as root
// (Dovecot refuses mail access as uid 0: "Mail access not allowed for
// root").
func owner(t testing.TB) mailOwner {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatalf("current user: %v", err)
		}
		return mailOwner{uid: os.Getuid(), gid: os.Getgid(), name: u.Username}
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root needs the user nobody to own the test Maildirs: %v", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return mailOwner{uid: uid, gid: gid, name: "nobody", root: true}
}

// chown gives path to the mail owner (a no-op when not root).
func (o mailOwner) chown(t testing.TB, path string) {
	t.Helper()
	if !o.root {
		return
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		t.Fatalf("chown: %v", err)
	}
}

// credential returns the process credential to run as the owner, nil when
// not root.
func (o mailOwner) credential() *syscall.Credential {
	if !o.root {
		return nil
	}
	return &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid), NoSetGroups: true}
}

// sharedDir returns a new temporary directory that the mail owner can
// traverse (t.TempDir's parent is 0700).
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mkMaildir creates root with cur/, new/ and tmp/, owned by the mail owner.
func (o mailOwner) mkMaildir(t testing.TB, root string) {
	t.Helper()
	for _, d := range []string{"", "cur", "new", "tmp"} {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		o.chown(t, p)
	}
}

// writeFile writes a file readable by everybody (configuration, users).
func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for servers that cannot report the port they bound (Dovecot,
// Postfix). A lost race shows as a bind error in the server's log.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitPort waits until addr accepts TCP connections. exited, if not nil,
// is closed when the server process ended, which fails at once.
func waitPort(addr string, exited <-chan struct{}) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-exited:
			return fmt.Errorf("server exited before listening on %s", addr)
		case <-timeout:
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, deadline, err)
		case <-tick.C:
		}
	}
}

// syncBuffer collects a child's output for the test to read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a child started in its own process group.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer // stdout and stderr
	exited chan struct{}
	err    error // of Wait, valid after exited
}

// startProcess starts cmd in a new process group with its output in
// p.output. lineFn, if not nil, sees every output line as it arrives.
func startProcess(t testing.TB, name string, cmd *exec.Cmd, lineFn func(string)) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, output: &syncBuffer{}, exited: make(chan struct{})}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.output.Write([]byte(line + "\n"))
			if lineFn != nil {
				lineFn(line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		<-copied
		close(p.exited)
	}()
	return p
}

// stop sends SIGTERM to the process, waits for it, then kills whatever is
// left of its process group. It returns the exit error.
func (p *process) stop() error {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	var err error
	select {
	case <-p.exited:
		err = p.err
	case <-time.After(deadline):
		err = fmt.Errorf("%s did not stop within %v after SIGTERM", p.name, deadline)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-p.exited
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // leftovers; ESRCH when none
	return err
}

// grepLines returns the lines of text that contain any of words (compared
// case-insensitively).
func grepLines(text string, words ...string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		low := strings.ToLower(line)
		for _, w := range words {
			if strings.Contains(low, strings.ToLower(w)) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}
