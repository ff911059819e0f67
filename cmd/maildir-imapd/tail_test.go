package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startTail runs tailMain with args in-process and returns its output and
// a function that stops it and returns its error. It fails the test if
// tail ends before IDLE starts.
func startTail(t *testing.T, args []string) (out *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- tailMain(ctx, args, out, func() { close(ready) }) }()
	var result error
	finished := false
	stop = func() error {
		if !finished {
			finished = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(waitLimit):
				result = errors.New("tail did not stop")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case <-ready:
	case err := <-done:
		finished, result = true, err
		t.Fatalf("tail ended before IDLE: %v\n%s", err, out.String())
	case <-time.After(waitLimit):
		t.Fatalf("tail did not reach IDLE\n%s", out.String())
	}
	return out, stop
}

// waitLine waits until out has a line matching re, failing after
// waitLimit with what it printed.
func waitLine(t *testing.T, out *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		for _, line := range strings.Split(out.String(), "\n") {
			if re.MatchString(line) {
				return line
			}
		}
		select {
		case <-timeout:
			t.Fatalf("tail printed no line matching %q within %v:\n%s", re, waitLimit, out.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// shellWords splits a command line the demo printed: words separated by
// spaces, with '...' quoting as shellQuote writes it.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			w.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// demoTailArgs returns the arguments after "tail" of the tail command the
// demo printed.
func demoTailArgs(t *testing.T, printed string) []string {
	t.Helper()
	for _, line := range strings.Split(printed, "\n") {
		words := shellWords(t, strings.TrimSpace(line))
		for i, w := range words {
			if w == "tail" && i > 0 && strings.HasPrefix(words[i+1], "--") {
				return words[i+1:]
			}
		}
	}
	t.Fatalf("the demo printed no tail command:\n%s", printed)
	return nil
}

// renameInto writes a message into maildir's tmp/ and renames it to
// dir/name, as an MTA delivers.
func renameInto(t *testing.T, maildir, dir, name string) {
	t.Helper()
	tmp := filepath.Join(maildir, "tmp", name)
	writeFile(t, tmp, "From: Carol <carol@example.net>\nSubject: tail test\n\nhi\n")
	if err := os.Rename(tmp, filepath.Join(maildir, dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TestTail_demoHint runs the tail command exactly as the demo prints it
// (STARTTLS, the demo's certificate as the trust anchor, the password
// file, the Maildir for delays) and makes changes on disk: a delivery
// renamed into new/, a flag change renamed in cur/, and an unlink. Each
// must be printed with its delay after the change on disk.
func TestTail_demoHint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	printed, addr, _ := startDemo(t, dir)
	args := demoTailArgs(t, printed)
	if !strings.Contains(strings.Join(args, " "), "--addr "+addr+" ") {
		t.Fatalf("tail hint %q does not name the demo's address %s", args, addr)
	}
	out, stop := startTail(t, args)
	waitLine(t, out, regexp.MustCompile(`INBOX on .*: 6 messages, UIDNEXT 7; waiting in IDLE`))

	maildir := filepath.Join(dir, "Maildir")
	renameInto(t, maildir, "new", "1800000000.tailtest.host")
	waitLine(t, out, regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6}  \* 7 EXISTS   \(\d+\.\d ms after the change on disk\)$`))

	seen, err := filepath.Glob(filepath.Join(maildir, "cur", "*:2,S"))
	if err != nil || len(seen) == 0 {
		t.Fatalf("no message with only \\Seen in cur/: %v %v", seen, err)
	}
	flagged := strings.TrimSuffix(seen[0], "S") + "FS"
	if err := os.Rename(seen[0], flagged); err != nil {
		t.Fatal(err)
	}
	waitLine(t, out, regexp.MustCompile(`\* \d FETCH \(UID \d+ FLAGS \(\\Flagged \\Seen\)\)   \(\d+\.\d ms after the change on disk\)$`))

	if err := os.Remove(flagged); err != nil {
		t.Fatal(err)
	}
	waitLine(t, out, regexp.MustCompile(`\* \d EXPUNGE   \(\d+\.\d ms after the change on disk\)$`))
	if err := stop(); err != nil {
		t.Errorf("tail: %v", err)
	}
}

// TestTail_connectionModes: plaintext (loopback), STARTTLS without a trust
// anchor but with --insecure-skip-verify, and with --password; a
// certificate that is not trusted fails.
func TestTail_connectionModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	printed, addr, _ := startDemo(t, dir)
	password := passwordLine.FindStringSubmatch(printed)[1]
	otherCert, _, _ := testCert(t)
	base := []string{"--addr", addr, "--user", demoUser}
	tests := []struct {
		name    string
		args    []string
		wantErr string // "": reaches IDLE
	}{
		{"plaintext", []string{"--password", password}, ""},
		{"starttls insecure", []string{"--password", password, "--starttls", "--insecure-skip-verify"}, ""},
		{"starttls untrusted", []string{"--password", password, "--starttls", "--ca-file", otherCert}, "certificate"},
		{"starttls unknown authority", []string{"--password", password, "--starttls"}, "certificate"},
		{"wrong password", []string{"--password", "not" + password}, "LOGIN"},
		{"no such folder", []string{"--password", password, "--folder", "Nope"}, "EXAMINE Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, base...), tc.args...)
			if tc.wantErr == "" {
				out, stop := startTail(t, args)
				waitLine(t, out, regexp.MustCompile(`waiting in IDLE`))
				if err := stop(); err != nil {
					t.Errorf("tail: %v", err)
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			err := tailMain(ctx, args, &syncBuffer{}, func() { t.Error("tail reached IDLE") })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("tail error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestTail_usage: bad command lines are usage errors (exit status 2), and
// -h is help.
func TestTail_usage(t *testing.T) {
	pwFile := writeFile(t, filepath.Join(t.TempDir(), "pw"), "secret\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no user", []string{"--password", "x"}, "--user is required"},
		{"no password", []string{"--user", "u"}, "exactly one of --password and --password-file"},
		{"both passwords", []string{"--user", "u", "--password", "x", "--password-file", pwFile}, "exactly one"},
		{"tls and starttls", []string{"--user", "u", "--password", "x", "--tls", "--starttls"}, "exclude each other"},
		{"ca without tls", []string{"--user", "u", "--password", "x", "--ca-file", pwFile}, "need --tls or --starttls"},
		{"argument", []string{"--user", "u", "--password", "x", "INBOX"}, `unexpected argument "INBOX"`},
		{"help", []string{"-h"}, flag.ErrHelp.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tailMain(context.Background(), tc.args, &syncBuffer{}, nil)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

func TestFolderDirs(t *testing.T) {
	tests := []struct {
		name, maildir, mailbox string
		want                   []string
	}{
		{"inbox", "/m", "INBOX", []string{"/m/new", "/m/cur"}},
		{"inbox any case", "/m", "inbox", []string{"/m/new", "/m/cur"}},
		{"folder", "/m", "Work.Projects", []string{"/m/.Work.Projects/new", "/m/.Work.Projects/cur"}},
		{"no maildir", "", "INBOX", nil},
		{"non-ascii", "/m", "Entwürfe", nil},
		{"slash", "/m", "../x", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := folderDirs(tc.maildir, tc.mailbox)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("folderDirs(%q, %q) = %q, want %q", tc.maildir, tc.mailbox, got, tc.want)
			}
		})
	}
}
