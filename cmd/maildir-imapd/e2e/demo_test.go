package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demo is a running `maildir-imapd demo` and what it printed.
type demo struct {
	dir     string
	maildir string
	printed string
	addr    string
}

// startDemo runs `maildir-imapd demo` on a free loopback port in a new
// directory and waits for its instructions. It is stopped at cleanup.
func startDemo(t *testing.T) *demo {
	t.Helper()
	d := &demo{dir: filepath.Join(t.TempDir(), "demo")}
	d.maildir = filepath.Join(d.dir, "Maildir")
	out := &syncBuffer{}
	cmd := exec.Command(binary, "demo", "--dir", d.dir, "--listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start demo: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("demo exit: %v\n%s", err, out.String())
			}
		case <-time.After(deadline):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("demo did not stop within %v of SIGTERM", deadline)
		}
	})
	d.printed = waitOutput(t, out, regexp.MustCompile(`Ctrl-C stops the server`), exited)
	m := regexp.MustCompile(`serving a Maildir on (\S+)`).FindStringSubmatch(d.printed)
	if m == nil {
		t.Fatalf("no address in the demo's output:\n%s", d.printed)
	}
	d.addr = m[1]
	return d
}

// waitOutput waits until out matches re and returns all of out, failing
// if the process exits first (exited) or after the deadline.
func waitOutput(t *testing.T, out *syncBuffer, re *regexp.Regexp, exited <-chan error) string {
	t.Helper()
	timeout := time.After(deadline)
	for {
		if s := out.String(); re.MatchString(s) {
			return s
		}
		select {
		case err := <-exited:
			t.Fatalf("exited (%v) before printing %q:\n%s", err, re, out.String())
		case <-timeout:
			t.Fatalf("nothing matching %q within %v:\n%s", re, deadline, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// hint returns the printed command line that starts with prefix (after
// the indentation), without a trailing "# comment".
func (d *demo) hint(t *testing.T, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(d.printed, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, prefix) {
			if i := strings.Index(line, "  # "); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			return line
		}
	}
	t.Fatalf("the demo printed no line starting with %q:\n%s", prefix, d.printed)
	return ""
}

// hintContaining returns the printed command line that contains s.
func (d *demo) hintContaining(t *testing.T, s string) string {
	t.Helper()
	for _, line := range strings.Split(d.printed, "\n") {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("the demo printed no line containing %q:\n%s", s, d.printed)
	return ""
}

// deliverHint runs the printed MTA-style delivery command (the test must
// have called requireDeliverTools).
func (d *demo) deliverHint(t *testing.T) {
	t.Helper()
	mustRun(t, nil, "sh", "-c", d.hint(t, "printf "))
}

// requireDeliverTools checks for the programs of the delivery hint.
func requireDeliverTools(t *testing.T) {
	t.Helper()
	requireTool(t, "mv", "coreutils")
	requireTool(t, "date", "coreutils")
}

// startShell runs a printed long-running command with sh, output to a
// buffer, and stops it (its whole process group) at cleanup.
func startShell(t *testing.T, env []string, line string) (*syncBuffer, <-chan error) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", line, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(deadline):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return out, exited
}

// TestDemo_tailHint runs the demo's `tail` hint exactly as printed (with
// the binary under test in place of the command name) and the printed
// delivery command: tail prints the new message's EXISTS with its delay.
func TestDemo_tailHint(t *testing.T) {
	t.Parallel()
	requireDeliverTools(t)
	d := startDemo(t)
	line := d.hintContaining(t, " tail --addr "+d.addr+" ")
	_, args, _ := strings.Cut(line, " tail ")
	out, exited := startShell(t, nil, binary+" tail "+args)
	waitOutput(t, out, regexp.MustCompile(`INBOX on \S+: 6 messages, UIDNEXT 7; waiting in IDLE`), exited)
	d.deliverHint(t)
	waitOutput(t, out, regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{6}  \* 7 EXISTS   \(\d+\.\d ms after the change on disk\)$`), exited)
}

// TestDemo_curlHints runs the demo's curl hints as printed.
func TestDemo_curlHints(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl", "curl")
	d := startDemo(t)
	tests := []struct {
		url  string
		want []string
	}{
		{"/'", []string{`* LIST (\HasNoChildren) "." INBOX`, `"." Work.Projects`, `\Sent) "." Sent`}},
		{"/INBOX?ALL'", []string{"* SEARCH 1 2 3 4 5 6"}},
		{"/INBOX;UID=1'", []string{"Subject: ", "From: "}},
	}
	for _, tc := range tests {
		line := d.hint(t, "curl --url 'imap://"+d.addr+tc.url)
		res := mustRun(t, nil, "sh", "-c", line)
		for _, w := range tc.want {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("%s: output lacks %q:\n%s", line, w, res)
			}
		}
	}
}

// TestDemo_muttHint runs the demo's mutt hint as printed in a terminal
// (tmux), with an empty home directory: mutt must open INBOX over STARTTLS
// without asking anything (certificate, password, ~/Mail), and show a
// message delivered with the printed command without a key press.
func TestDemo_muttHint(t *testing.T) {
	t.Parallel()
	requireTool(t, "mutt", "mutt")
	tmux := requireTool(t, "tmux", "tmux")
	requireDeliverTools(t)
	d := startDemo(t)
	line := d.hint(t, "mutt ")
	home := t.TempDir()
	socket := filepath.Join(t.TempDir(), "tmux")
	mustRun(t, []string{"HOME=" + home}, tmux, "-S", socket, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50",
		"env HOME="+home+" TERM=xterm "+line+"; echo mutt exited $?; sleep 60")
	t.Cleanup(func() { runTool(t, nil, tmux, "-S", socket, "kill-server") })
	screen := func() string { return mustRun(t, nil, tmux, "-S", socket, "capture-pane", "-p").stdout }
	waitScreen := func(what string) {
		t.Helper()
		timeout := time.After(deadline)
		for !strings.Contains(screen(), what) {
			select {
			case <-timeout:
				t.Fatalf("mutt's screen has no %q after %v:\n%s", what, deadline, screen())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitScreen(fmt.Sprintf("[Msgs:%d ", 6))
	d.deliverHint(t)
	waitScreen(fmt.Sprintf("[Msgs:%d ", 7))
	waitScreen("hello")
}
