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
		{name: "help unknown command", args: []string{"help", "frob"}, code: 2, want: `maildir-imapd: help: unknown command "frob"`},
		{name: "bench without subcommand", args: []string{"bench"}, code: 2, want: "bench push|setup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := mainExit(tt.args, &stdout, &stderr); code != tt.code {
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

// TestMainExit_help: every way of asking for help prints it to stdout and
// exits 0, with nothing on stderr.
func TestMainExit_help(t *testing.T) {
	const list = "Usage: maildir-imapd <command> [flags]"
	tests := []struct {
		name string
		args []string
		want []string // in stdout
	}{
		{name: "help", args: []string{"help"}, want: []string{list, "serve", "demo", "passwd, hash"}},
		{name: "-h", args: []string{"-h"}, want: []string{list}},
		{name: "-help", args: []string{"-help"}, want: []string{list}},
		{name: "--help", args: []string{"--help"}, want: []string{list}},
		{name: "help help", args: []string{"help", "help"}, want: []string{list}},
		{name: "serve -h", args: []string{"serve", "-h"}, want: []string{"Usage of maildir-imapd serve:", "-listen", "-tls-cert"}},
		{name: "serve --help", args: []string{"serve", "--help"}, want: []string{"Usage of maildir-imapd serve:"}},
		{name: "help serve", args: []string{"help", "serve"}, want: []string{"Usage of maildir-imapd serve:", "-listen"}},
		{name: "check -h", args: []string{"check", "-h"}, want: []string{"Usage of maildir-imapd check:", "-config"}},
		{name: "demo -h", args: []string{"demo", "-h"}, want: []string{"Usage of maildir-imapd demo:", "-dir"}},
		{name: "help hash", args: []string{"help", "hash"}, want: []string{"Usage of maildir-imapd passwd:", "-scheme"}},
		{name: "bench -h", args: []string{"bench", "-h"}, want: []string{"bench push|setup"}},
		{name: "bench push -h", args: []string{"bench", "push", "-h"}, want: []string{"Usage of maildir-imapd bench push:", "-conns"}},
		{name: "bench setup -h", args: []string{"bench", "setup", "-h"}, want: []string{"Usage of maildir-imapd bench setup:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := mainExit(tt.args, &stdout, &stderr); code != 0 {
				t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr not empty:\n%s", stderr.String())
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

func TestMainExit_configUnknownKey(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), "listen = \"127.0.0.1:0\"\n\nusers_file = \"/etc/users\"\n")
	var stdout, stderr bytes.Buffer
	if code := mainExit([]string{"check", "--config", path}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := `line 3: unknown key "users_file"`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}
