package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

func TestPasswd_verifies(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		prefix string
	}{
		{name: "default", prefix: "{BLF-CRYPT}$2y$10$"},
		{name: "argon2id", args: []string{"--scheme", "ARGON2ID"}, prefix: "{ARGON2ID}$argon2id$"},
		{name: "sha512-crypt", args: []string{"--scheme", "sha512-crypt"}, prefix: "{SHA512-CRYPT}$6$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.Open(writeFile(t, filepath.Join(t.TempDir(), "pw"), "s3cret pass\nignored\n"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var out, prompt bytes.Buffer
			if err := passwdMain(tt.args, in, &out, &prompt); err != nil {
				t.Fatal(err)
			}
			h := strings.TrimSuffix(out.String(), "\n")
			if !strings.HasPrefix(h, tt.prefix) || strings.Contains(h, "\n") {
				t.Fatalf("output %q, want one line starting %q", out.String(), tt.prefix)
			}
			if prompt.Len() != 0 {
				t.Errorf("prompted %q on a non-terminal stdin", prompt.String())
			}
			f, err := passwdfile.Parse(strings.NewReader("u:" + h + "\n"))
			if err != nil {
				t.Fatalf("hash does not parse as a passwd-file field: %v", err)
			}
			if _, err := f.Verify("u", "s3cret pass"); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if _, err := f.Verify("u", "s3cret"); err == nil {
				t.Error("Verify accepted a wrong password")
			}
		})
	}
}

func TestPasswd_errors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{name: "empty stdin", stdin: "", want: "no password"},
		{name: "empty line", stdin: "\n", want: "empty password"},
		{name: "unknown scheme", args: []string{"--scheme", "ROT13"}, stdin: "x\n", want: "ROT13"},
		{name: "argument", args: []string{"secret"}, stdin: "x\n", want: "stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.Open(writeFile(t, filepath.Join(t.TempDir(), "pw"), tt.stdin))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var out bytes.Buffer
			err = passwdMain(tt.args, in, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("passwd = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
