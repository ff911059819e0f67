package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// Test credentials of every daemon the tests start (single-user mode).
const (
	testUser = "alice"
	testPass = "s3cret pass"
)

// deadline bounds every wait for the daemon or a client. It only fails a
// test that would otherwise hang; nothing asserts on timing.
const deadline = 30 * time.Second

// binary is the maildir-imapd binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "maildir-imapd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "maildir-imapd")
	// -buildvcs=false: a clone owned by another user makes git refuse to
	// report the VCS status, which would fail the build.
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", binary, "../")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireTool returns the path of an external client, failing the test when
// it is not installed.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed; run .ci/run or apt-get install %s (MAILDIR_IMAPD_E2E_REQUIRE=%q)",
			name, pkg, os.Getenv("MAILDIR_IMAPD_E2E_REQUIRE"))
	}
	return p
}

// toolResult is the outcome of one run of an external tool.
type toolResult struct {
	stdout, stderr string
	code           int
}

func (r toolResult) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runTool runs an external tool with a deadline and returns its output.
func runTool(t *testing.T, env []string, name string, args ...string) toolResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(deadline):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q did not finish within %v\n--- stdout:\n%s\n--- stderr:\n%s",
			name, args, deadline, stdout.String(), stderr.String())
	}
	res := toolResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", name, err)
	}
	return res
}

// mustRun runs a tool and fails the test, showing its output, unless it
// exits 0.
func mustRun(t *testing.T, env []string, name string, args ...string) toolResult {
	t.Helper()
	res := runTool(t, env, name, args...)
	if res.code != 0 {
		t.Fatalf("%s %q failed: %v", name, args, res)
	}
	return res
}

// syncBuffer is a bytes.Buffer safe for the daemon's stderr copier and the
// test reading it.
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

// daemon is a running `maildir-imapd serve` process.
type daemon struct {
	t       *testing.T
	args    []string
	Addr    string // plain/STARTTLS listener, 127.0.0.1:port
	TLSAddr string // implicit-TLS listener, "" without tls_cert
	log     *syncBuffer
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped bool
}

// startDaemon writes toml to a config file and starts `serve --config` on
// free loopback ports given as flags (flags override the file). It returns
// once the plain listener accepts connections and stops the daemon at
// cleanup, checking that it exits 0 and says BYE to a logged-in client.
func startDaemon(t *testing.T, tomlText string) *daemon {
	t.Helper()
	var keys map[string]any
	if _, err := toml.Decode(tomlText, &keys); err != nil {
		t.Fatalf("test config does not parse: %v\n%s", err, tomlText)
	}
	path := filepath.Join(t.TempDir(), "maildir-imapd.toml")
	if err := os.WriteFile(path, []byte(tomlText), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, Addr: freeAddr(t)}
	d.args = []string{"serve", "--config", path, "--listen", d.Addr, "--log-level", "debug"}
	if _, ok := keys["tls_cert"]; ok {
		d.TLSAddr = freeAddr(t)
		d.args = append(d.args, "--listen-tls", d.TLSAddr)
	}
	d.start()
	t.Cleanup(func() {
		if !d.stopped {
			d.stop()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. The daemon binds it right after; a lost race shows as a bind error.
func freeAddr(t *testing.T) string {
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

// start runs the binary and waits until every listener accepts.
func (d *daemon) start() {
	t := d.t
	t.Helper()
	if d.log == nil {
		d.log = &syncBuffer{}
	}
	fmt.Fprintf(d.log, "--- %s %s\n", binary, strings.Join(d.args, " "))
	d.cmd = exec.Command(binary, d.args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.exited = make(chan struct{})
	d.stopped = false
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	for _, addr := range []string{d.Addr, d.TLSAddr} {
		if addr != "" {
			d.waitAccepting(addr)
		}
	}
}

// waitAccepting polls addr until it accepts a connection, failing if the
// daemon exits first or the deadline passes.
func (d *daemon) waitAccepting(addr string) {
	t := d.t
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		select {
		case <-d.exited:
			t.Fatalf("daemon exited before listening on %s: %v\n%s", addr, d.waitErr, d.log.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(end) {
			t.Fatalf("daemon not accepting on %s after %v: %v\n%s", addr, deadline, err, d.log.String())
		}
		select {
		case <-d.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop logs a raw client in, sends SIGTERM, and checks that the client got
// "* BYE" and that the daemon exited with status 0.
func (d *daemon) stop() {
	t := d.t
	t.Helper()
	d.stopped = true
	conn, r := rawLogin(t, d.Addr)
	defer conn.Close()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	var got []string
	bye := false
	for !bye {
		line, err := r.ReadString('\n')
		if line != "" {
			got = append(got, strings.TrimRight(line, "\r\n"))
			bye = strings.HasPrefix(line, "* BYE")
		}
		if err != nil {
			break
		}
	}
	select {
	case <-d.exited:
	case <-time.After(deadline):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("daemon did not exit within %v of SIGTERM\n%s", deadline, d.log.String())
	}
	if !bye {
		t.Errorf("logged-in client got no * BYE at shutdown; it read %q", got)
	}
	if d.waitErr != nil {
		t.Errorf("daemon exit after SIGTERM: %v (want status 0)\n%s", d.waitErr, d.log.String())
	}
}

// restart stops the daemon (with the checks of stop) and starts it again on
// the same ports.
func (d *daemon) restart() {
	d.t.Helper()
	d.stop()
	d.start()
}

// rawLogin opens a wire connection to addr, reads the greeting and logs in.
func rawLogin(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(deadline))
	r := bufio.NewReader(conn)
	greeting, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		conn.Close()
		t.Fatalf("greeting: %q, %v", greeting, err)
	}
	if _, err := fmt.Fprintf(conn, "a1 LOGIN %s %q\r\n", testUser, testPass); err != nil {
		conn.Close()
		t.Fatalf("send LOGIN: %v", err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			conn.Close()
			t.Fatalf("LOGIN: %v", err)
		}
		if strings.HasPrefix(line, "a1 ") {
			if !strings.HasPrefix(line, "a1 OK") {
				conn.Close()
				t.Fatalf("LOGIN: %q", line)
			}
			break
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, r
}

// singleUserConfig returns the TOML configuration serving maildir for
// testUser/testPass, plus extra lines.
func singleUserConfig(maildir string, extra ...string) string {
	lines := []string{
		fmt.Sprintf("maildir = %q", maildir),
		fmt.Sprintf("user = %q", testUser),
		fmt.Sprintf("password_hash = %q", "{PLAIN}"+testPass),
		`log_format = "json"`,
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}
