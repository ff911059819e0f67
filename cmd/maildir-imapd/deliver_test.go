package main

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// deliverExit runs deliver with args and the message on stdin and returns
// its exit code as mainExit would.
func deliverExit(t *testing.T, msg string, args ...string) int {
	t.Helper()
	var logs syncBuffer
	err := deliverMain(args, strings.NewReader(msg), &logs)
	if err == nil {
		return 0
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		t.Fatalf("deliver %q: %v is not an exitError", args, err)
	}
	t.Logf("deliver %q: exit %d: %v\n%s", args, ee.code, ee.err, logs.String())
	return ee.code
}

// newFiles returns the names of the files in dir/new.
func newFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDeliver_usersFile(t *testing.T) {
	dir := t.TempDir()
	users := writeFile(t, filepath.Join(dir, "users"), "alice@example.org:{PLAIN}x::::::\nbob:{PLAIN}x::::::\n")
	loc := "maildir:" + dir + "/%d/%n/Maildir"
	common := []string{"--users", users, "--mail-location", loc}
	alice := filepath.Join(dir, "example.org", "alice", "Maildir")
	if err := os.MkdirAll(filepath.Join(alice, ".Work", "new"), 0o700); err != nil {
		t.Fatal(err)
	}
	msg := "From bob@example.net Tue Dec  1 10:00:00 2026\nSubject: hi\n\nbody\n"
	tests := []struct {
		name   string
		args   []string
		code   int
		folder string // where the message must land, under alice's root
	}{
		{"inbox", []string{"-d", "alice@example.org", "-f", "bob@example.net"}, exOK, ""},
		{"detail removed", []string{"-d", "alice+x@example.org"}, exOK, ""},
		{"mailbox", []string{"-d", "alice@example.org", "-m", "Work"}, exOK, ".Work"},
		{"missing mailbox falls back", []string{"-d", "alice@example.org", "-m", "Nope"}, exOK, ""},
		{"detail mailbox", []string{"-d", "alice@example.org", "-a", "alice+Work@example.org", "--lmtp-detail-mailbox"}, exOK, ".Work"},
		{"unknown user", []string{"-d", "carol@example.org"}, exNoUser, "-"},
		{"too big", []string{"-d", "alice@example.org", "--append-limit", "10"}, exDataErr, "-"},
		{"bad flag", []string{"-d", "alice@example.org", "--nope"}, exUsage, "-"},
		{"bad users file", []string{"-d", "alice@example.org", "--users", filepath.Join(dir, "missing")}, exConfig, "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]int{"": len(newFiles(t, alice)), ".Work": len(newFiles(t, filepath.Join(alice, ".Work")))}
			if code := deliverExit(t, msg, append(append([]string{}, common...), tc.args...)...); code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			for folder, n := range before {
				want := n
				if folder == tc.folder {
					want++
				}
				files := newFiles(t, filepath.Join(alice, folder))
				if len(files) != want {
					t.Errorf("%q/new has %d files, want %d", folder, len(files), want)
				}
			}
			if tmp, _ := os.ReadDir(filepath.Join(alice, "tmp")); len(tmp) != 0 {
				t.Errorf("tmp/ has %d files left", len(tmp))
			}
		})
	}
	// The mbox From_ line Postfix's pipe(8) adds with flag F is not stored.
	files := newFiles(t, alice)
	data, err := os.ReadFile(filepath.Join(alice, "new", files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "Subject: hi\n") {
		t.Errorf("stored message starts %q, want the From_ line dropped", data[:min(len(data), 40)])
	}
}

// TestDeliver_systemUser: without a users file the user is a system user
// (local(8) runs mailbox_command as the recipient), whose home expands
// mail_location.
func TestDeliver_systemUser(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	loc := "maildir:" + dir + "/%u/Maildir"
	if code := deliverExit(t, "Subject: x\n\nx\n", "--mail-location", loc, "-d", u.Username); code != exOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if n := len(newFiles(t, filepath.Join(dir, u.Username, "Maildir"))); n != 1 {
		t.Fatalf("%d files delivered, want 1", n)
	}
	if code := deliverExit(t, "Subject: x\n\nx\n", "--mail-location", loc, "-d", "no-such-user-here"); code != exNoUser {
		t.Fatalf("unknown system user: exit %d, want %d", code, exNoUser)
	}
}

func TestMainExit_deliverCodes(t *testing.T) {
	var out, errw syncBuffer
	if code := mainExit([]string{"deliver", "--nope"}, &out, &errw); code != exUsage {
		t.Fatalf("deliver --nope: exit %d, want %d\n%s", code, exUsage, errw.String())
	}
	if code := mainExit([]string{"deliver", "-h"}, &out, &errw); code != 0 {
		t.Fatalf("deliver -h: exit %d, want 0", code)
	}
}
