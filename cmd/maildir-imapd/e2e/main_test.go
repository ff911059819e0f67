package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	config  string // the TOML file
	wantTLS bool   // the config has tls_cert: expect the implicit-TLS listener
	Addr    string // plain/STARTTLS listener, 127.0.0.1:port
	TLSAddr string // implicit-TLS listener, "" without tls_cert
	log     *syncBuffer
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped bool
}

// startDaemon writes toml to a config file and starts `serve --config` with
// its listeners on 127.0.0.1 port 0 (flags override the file). It reads the
// bound addresses from the daemon's "listening" log lines and returns once
// they greet a client. At cleanup it stops the daemon, checking that it
// exits 0 and says BYE to an idling client.
func startDaemon(t *testing.T, tomlText string) *daemon {
	t.Helper()
	var keys map[string]any
	if _, err := toml.Decode(tomlText, &keys); err != nil {
		t.Fatalf("test config does not parse: %v\n%s", err, tomlText)
	}
	d := &daemon{t: t, config: filepath.Join(t.TempDir(), "maildir-imapd.toml"), log: &syncBuffer{}}
	if err := os.WriteFile(d.config, []byte(tomlText), 0o600); err != nil {
		t.Fatal(err)
	}
	_, d.wantTLS = keys["tls_cert"]
	t.Cleanup(func() {
		if d.cmd != nil && !d.stopped {
			select {
			case <-d.exited:
				t.Errorf("daemon exited before the test ended: %v", d.waitErr)
			default:
				d.stop()
			}
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	listenTLS := ""
	if d.wantTLS {
		listenTLS = "127.0.0.1:0"
	}
	d.start("127.0.0.1:0", listenTLS)
	return d
}

// start runs the binary on the given listen addresses and waits until
// every listener greets a client.
func (d *daemon) start(listen, listenTLS string) {
	t := d.t
	t.Helper()
	args := []string{"serve", "--config", d.config, "--listen", listen, "--log-format", "json", "--log-level", "debug"}
	if listenTLS != "" {
		args = append(args, "--listen-tls", listenTLS)
	}
	fmt.Fprintf(d.log, "--- %s %s\n", binary, strings.Join(args, " "))
	logStart := len(d.log.String())
	d.cmd = exec.Command(binary, args...)
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
	d.Addr, d.TLSAddr = d.waitListening(logStart)
	if err := probe(d.Addr, false); err != nil {
		t.Fatalf("daemon on %s: %v", d.Addr, err)
	}
	if d.TLSAddr != "" {
		if err := probe(d.TLSAddr, true); err != nil {
			t.Fatalf("daemon on %s: %v", d.TLSAddr, err)
		}
	}
}

// waitListening polls the daemon's JSON log (from offset logStart) until it
// reports its bound listeners, failing if the daemon exits first or the
// deadline passes.
func (d *daemon) waitListening(logStart int) (plain, implicitTLS string) {
	t := d.t
	t.Helper()
	timeout := time.After(deadline)
	for {
		for _, line := range strings.Split(d.log.String()[logStart:], "\n") {
			var rec struct{ Msg, Addr, TLS string }
			if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "listening" {
				continue
			}
			if rec.TLS == "implicit" {
				implicitTLS = rec.Addr
			} else {
				plain = rec.Addr
			}
		}
		if plain != "" && (implicitTLS != "" || !d.wantTLS) {
			return plain, implicitTLS
		}
		select {
		case <-d.exited:
			t.Fatalf("daemon exited before listening: %v\n%s", d.waitErr, d.log.String())
		case <-timeout:
			t.Fatalf("daemon logged no \"listening\" lines within %v\n%s", deadline, d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// probe connects to addr, reads the greeting and logs out, so that the
// daemon sees an orderly client rather than a reset.
func probe(addr string, implicitTLS bool) error {
	dialer := &net.Dialer{Timeout: time.Second}
	var (
		c   net.Conn
		err error
	)
	if implicitTLS {
		// Only reachability is probed here; the TLS test verifies the
		// certificate.
		c, err = tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(greeting, "* OK") {
		return fmt.Errorf("greeting %q", greeting)
	}
	if _, err := io.WriteString(c, "p1 LOGOUT\r\n"); err != nil {
		return fmt.Errorf("LOGOUT: %w", err)
	}
	_, _ = io.Copy(io.Discard, r) // until the server closes
	return nil
}

// stop puts a raw client in IDLE on INBOX, sends SIGTERM, and checks that
// the client got "* BYE" and that the daemon exited with status 0.
func (d *daemon) stop() {
	t := d.t
	t.Helper()
	d.stopped = true
	defer func() { // never leak the process, whatever failed below
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}()
	conn, r := rawLogin(t, d.Addr)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(deadline))
	if err := rawCommand(conn, r, "a2", "SELECT INBOX", "a2 OK"); err != nil {
		t.Fatal(err)
	}
	if err := rawCommand(conn, r, "a3", "IDLE", "+"); err != nil {
		t.Fatal(err)
	}
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
// the same ports, so that clients' configurations stay valid.
func (d *daemon) restart() {
	d.t.Helper()
	d.stop()
	d.start(d.Addr, d.TLSAddr)
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
	if err := rawCommand(conn, r, "a1", fmt.Sprintf("LOGIN %s %q", testUser, testPass), "a1 OK"); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, r
}

// rawCommand sends one command and reads until a line starting with want
// (the tagged OK, or "+" for IDLE), failing on the tagged NO/BAD.
func rawCommand(conn net.Conn, r *bufio.Reader, tag, command, want string) error {
	if _, err := fmt.Fprintf(conn, "%s %s\r\n", tag, command); err != nil {
		return fmt.Errorf("send %s: %w", command, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %w", command, err)
		}
		switch {
		case strings.HasPrefix(line, want):
			return nil
		case strings.HasPrefix(line, tag+" "):
			return fmt.Errorf("%s: %q", command, line)
		}
	}
}

// singleUserConfig returns the TOML configuration serving maildir for
// testUser/testPass, plus extra lines.
func singleUserConfig(maildir string, extra ...string) string {
	lines := []string{
		fmt.Sprintf("maildir = %q", maildir),
		fmt.Sprintf("user = %q", testUser),
		fmt.Sprintf("password_hash = %q", "{PLAIN}"+testPass),
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}
