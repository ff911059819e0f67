package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck_usersFile(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", testUser)
	newMaildir(t, filepath.Join(home, "Maildir"))
	daveHome := filepath.Join(dir, "home", "dave")
	if err := os.MkdirAll(filepath.Join(daveHome, "Maildir", "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	users := writeFile(t, filepath.Join(dir, "users"), strings.Join([]string{
		"# users",
		testUser + ":" + testHash(t) + "::::" + home + "::",
		"bob:{NOSUCH}xyz::::/home/bob::",
		"carol:" + testHash(t) + "::::" + filepath.Join(dir, "home", "carol") + "::",
		"dave:" + testHash(t) + "::::" + daveHome + "::",
	}, "\n")+"\n")

	var out bytes.Buffer
	err := checkMain([]string{"--users", users, "--listen", "127.0.0.1:143"}, &out)
	if err == nil {
		t.Fatalf("check succeeded; output:\n%s", out.String())
	}
	wants := []string{
		"ok       config: ok",
		"PROBLEM  users: " + users + ": line 3",                         // the bad scheme, with its line number
		`user "alice" (line 2): Maildir ` + home + "/Maildir: readable", // resolved and readable
		`PROBLEM  user "dave" (line 5): Maildir ` + daveHome + "/Maildir: missing new/ tmp/",
		`WARNING  user "carol" (line 4): Maildir ` + dir + "/home/carol/Maildir: does not exist",
	}
	for _, w := range wants {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if !strings.Contains(err.Error(), "2 problem(s)") {
		t.Errorf("error = %v, want 2 problems", err)
	}
}

func TestCheck_config(t *testing.T) {
	certFile, keyFile, _ := testCert(t)
	otherCert, _, _ := testCert(t)
	dir := t.TempDir()
	maildir := newMaildir(t, filepath.Join(dir, "Maildir"))
	tests := []struct {
		name    string
		toml    string
		wantErr bool
		want    string
	}{
		{
			name: "good single user with TLS",
			toml: `listen = ":143"
tls_cert = "` + certFile + `"
tls_key = "` + keyFile + `"
maildir = "` + maildir + `"
user = "me"
password_hash = "` + testHash(t) + `"
`,
			want: "Maildir " + maildir + ": readable, has cur/ new/ tmp/",
		},
		{
			name: "key of another certificate",
			toml: `listen = "127.0.0.1:143"
tls_cert = "` + otherCert + `"
tls_key = "` + keyFile + `"
maildir = "` + maildir + `"
user = "me"
password_hash = "` + testHash(t) + `"
`,
			wantErr: true,
			want:    "PROBLEM  tls-cert/tls-key:",
		},
		{
			name: "bad hash and public plaintext",
			toml: `listen = ":143"
maildir = "` + maildir + `"
user = "me"
password_hash = "{SHA512-CRYPT}nope"
`,
			wantErr: true,
			want:    "nobody could log in",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "c.toml"), tt.toml)
			var out bytes.Buffer
			err := checkMain([]string{"--config", path}, &out)
			if (err != nil) != tt.wantErr {
				t.Errorf("check error = %v, want error: %v", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
}
