package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainExit_codes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{name: "no command", args: nil, code: 2, want: "Usage"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, want: `unknown command "frobnicate"`},
		{name: "unknown flag", args: []string{"serve", "--frob"}, code: 2, want: "maildir-imapd: serve: flag provided but not defined: -frob"},
		{name: "extra argument", args: []string{"check", "x"}, code: 2, want: `unexpected argument "x"`},
		{name: "bad config", args: []string{"serve", "--listen", ":143", "--users", "/nonexistent"}, code: 1, want: "maildir-imapd: listen"},
		{name: "missing users file", args: []string{"serve", "--listen", "127.0.0.1:0", "--users", "/nonexistent/users"}, code: 1, want: "maildir-imapd: users:"},
		{name: "version", args: []string{"version"}, code: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := mainExit(tt.args, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
			if n := strings.Count(stderr.String(), "maildir-imapd: "); tt.code == 1 && n != 1 {
				t.Errorf("error printed %d times:\n%s", n, stderr.String())
			}
		})
	}
}

func TestMainExit_configUnknownKey(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), "listen = \"127.0.0.1:0\"\n\nusers_file = \"/etc/users\"\n")
	var stderr bytes.Buffer
	if code := mainExit([]string{"check", "--config", path}, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := `line 3: unknown key "users_file"`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}
