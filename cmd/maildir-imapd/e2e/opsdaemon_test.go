package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// opsDaemon is a `maildir-imapd serve` for the proxy tests. Unlike
// startDaemon's, it is started from a testing.TB (benchmarks use it), its
// listeners are all given by its TOML, and it is not probed by a direct
// connection, which a backend behind a PROXY-protocol proxy refuses from
// the proxy's address.
type opsDaemon struct {
	name     string
	addr     string            // the IMAP listener
	opsAddrs map[string]string // "auth_http", "metrics": bound addresses
	log      *syncBuffer
}

// logRecord is one JSON log line of the daemon, with the fields the
// tests look at.
type logRecord struct {
	Msg      string `json:"msg"`
	Addr     string `json:"addr"`
	User     string `json:"user"`
	Conn     string `json:"conn"`
	Reason   string `json:"reason"`
	AuthWait int    `json:"auth_wait"`
}

// startOps writes tomlText and runs serve with it until the test ends
// (SIGTERM, then a wait). It returns once the listeners are bound.
func startOps(tb testing.TB, name, tomlText string) *opsDaemon {
	tb.Helper()
	config := writeTB(tb, filepath.Join(tb.TempDir(), "maildir-imapd.toml"), tomlText)
	d := &opsDaemon{name: name, opsAddrs: map[string]string{}, log: &syncBuffer{}}
	cmd := exec.Command(binary, "serve", "--config", config, "--log-format", "json", "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(deadline):
			_ = cmd.Process.Kill()
			<-exited
		}
		if tb.Failed() {
			tb.Logf("%s log:\n%s", name, d.log.String())
		}
	})
	wantOps := []string{}
	for _, k := range []string{"auth_http", "metrics"} {
		if strings.Contains(tomlText, k+"_listen") {
			wantOps = append(wantOps, k)
		}
	}
	timeout := time.After(deadline)
	for {
		for _, r := range d.records() {
			switch {
			case r.Msg == "listening":
				d.addr = r.Addr
			case strings.HasSuffix(r.Msg, " listening"):
				d.opsAddrs[strings.TrimSuffix(r.Msg, " listening")] = r.Addr
			}
		}
		if d.addr != "" && len(d.opsAddrs) == len(wantOps) {
			return d
		}
		select {
		case <-exited:
			tb.Fatalf("%s exited before listening:\n%s", name, d.log.String())
		case <-timeout:
			tb.Fatalf("%s did not listen within %v:\n%s", name, deadline, d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// records parses the daemon's log so far.
func (d *opsDaemon) records() []logRecord {
	var out []logRecord
	for _, line := range strings.Split(d.log.String(), "\n") {
		var r logRecord
		if json.Unmarshal([]byte(line), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// waitLog waits until the daemon logs a record that ok accepts.
func (d *opsDaemon) waitLog(tb testing.TB, ok func(logRecord) bool, what string) {
	tb.Helper()
	timeout := time.After(deadline)
	for {
		for _, r := range d.records() {
			if ok(r) {
				return
			}
		}
		select {
		case <-timeout:
			tb.Fatalf("%s logged no %s within %v:\n%s", d.name, what, deadline, d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// writeTB writes a file and returns its path.
func writeTB(tb testing.TB, path, content string) string {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// makeMaildirTB creates the cur/ new/ tmp/ of a Maildir.
func makeMaildirTB(tb testing.TB, root string) {
	tb.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
}
