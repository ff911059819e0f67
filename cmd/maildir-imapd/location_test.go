package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestCheck_mailLocationOptions: check refuses LAYOUT=fs, INBOX= and
// unknown options, in mail_location and in a user's own userdb_mail, and
// says that INDEX= is ignored; CONTROL=, UTF8 and LAYOUT=maildir++ pass.
func TestCheck_mailLocationOptions(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", testUser)
	newMaildir(t, filepath.Join(home, "Maildir"))
	tests := []struct {
		name     string
		location string // mail_location
		own      string // the user's userdb_mail, "" for none
		wantErr  bool
		want     string
	}{
		{"control index utf8", "maildir:~/Maildir:CONTROL=~/control:INDEX=/var/idx/%u:UTF8:LAYOUT=maildir++", "", false,
			"WARNING  mail-location: INDEX= is ignored"},
		{"layout fs", "maildir:~/Maildir:LAYOUT=fs", "", true, "LAYOUT=fs is not supported"},
		{"inbox", "maildir:~/Maildir:INBOX=~/inbox", "", true, "INBOX=" + home + "/inbox is not supported"},
		{"inbox is the root", "maildir:~/Maildir:INBOX=~/Maildir", "", false, "ok       config: ok"},
		{"unknown option", "maildir:~/Maildir:VOLATILEDIR=/tmp/v", "", true, `option "VOLATILEDIR=/tmp/v" is not supported`},
		{"user layout fs", "maildir:~/Maildir", "maildir:~/Maildir:LAYOUT=fs", true, `user "alice" (line 1): user "alice": mail location`},
		{"user utf8 differs", "maildir:~/Maildir", "maildir:~/Maildir:UTF8", true, "UTF8 must be the same for every user"},
		{"user index", "maildir:~/Maildir", "maildir:~/Maildir:INDEX=/var/idx/alice", false, "INDEX=/var/idx/alice is ignored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := ""
			if tc.own != "" {
				extra = "userdb_mail=" + tc.own
			}
			users := writeFile(t, filepath.Join(t.TempDir(), "users"), testUser+":"+testHash(t)+"::::"+home+"::"+extra+"\n")
			var out bytes.Buffer
			err := checkMain([]string{"--users", users, "--listen", "127.0.0.1:143", "--mail-location", tc.location}, &out)
			if (err != nil) != tc.wantErr || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("check: %v (want error %t), output lacks %q:\n%s", err, tc.wantErr, tc.want, out.String())
			}
		})
	}
}

// TestServe_refusesLayoutFS: serve does not start on a mail location it
// would read wrong.
func TestServe_refusesLayoutFS(t *testing.T) {
	cfg := testConfig(t)
	cfg.MailLocation = "maildir:~/Maildir:LAYOUT=fs"
	if _, err := startDaemon(cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "LAYOUT=fs is not supported") {
		t.Fatalf("startDaemon with LAYOUT=fs: %v, want a refusal naming LAYOUT=fs", err)
	}
}

// TestServe_controlDir: with CONTROL= in mail_location, serve reads the
// dovecot-uidlist Dovecot left in the control directory (the client keeps
// UIDVALIDITY and UIDs) and writes its control files there.
func TestServe_controlDir(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", testUser)
	maildir := newMaildir(t, filepath.Join(home, "Maildir"))
	ctl := filepath.Join(dir, "control", testUser)
	// newMaildir's message, numbered 42 by "Dovecot" under UIDVALIDITY 777.
	writeFile(t, filepath.Join(ctl, ".INBOX", "dovecot-uidlist"), "3 V777 N43 G0123456789abcdef0123456789abcdef\n42 :1700000000.M1P1Q1.test,S=60\n")
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", ""
	cfg.Users = writeFile(t, filepath.Join(dir, "users"), testUser+":"+testHash(t)+"::::"+home+"::\n")
	cfg.MailLocation = "maildir:~/Maildir:CONTROL=" + filepath.Join(dir, "control") + "/%u:INDEX=" + filepath.Join(dir, "index") + "/%u"
	r := startServe(t, &cfg)
	plain, _ := r.d.Addrs()
	c := dialPlain(t, plain)
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.UIDValidity != 777 || sel.UIDNext != 43 {
		t.Fatalf("UIDVALIDITY %d UIDNEXT %d, want 777 and 43 from CONTROL=", sel.UIDValidity, sel.UIDNext)
	}
	if err := c.Subscribe("INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.UIDSetNum(42), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"Work"}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"subscriptions", ".INBOX/dovecot-keywords"} {
		if _, err := os.Stat(filepath.Join(ctl, f)); err != nil {
			t.Errorf("%s not in the control directory: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(maildir, filepath.Base(f))); err == nil {
			t.Errorf("%s written into the Maildir", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index")); err == nil {
		t.Errorf("INDEX= directory created: it is ignored")
	}
}

// TestServe_utf8Location: ":UTF8" in mail_location creates folders with
// UTF-8 names on disk, as utf8_folder_names does.
func TestServe_utf8Location(t *testing.T) {
	for _, tc := range []struct {
		location, dir string
	}{
		{"maildir:~/Maildir:UTF8", ".Entwürfe"},
		{"maildir:~/Maildir", ".Entw&APw-rfe"},
	} {
		t.Run(tc.location, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MailLocation = tc.location
			r := startServe(t, cfg)
			plain, _ := r.d.Addrs()
			c := dialPlain(t, plain)
			if err := c.Login(testUser, testPassword).Wait(); err != nil {
				t.Fatal(err)
			}
			if err := c.Create("Entwürfe", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			home := filepath.Join(filepath.Dir(cfg.Users), "home", testUser)
			if _, err := os.Stat(filepath.Join(home, "Maildir", tc.dir)); err != nil {
				t.Fatalf("folder %s not created: %v", tc.dir, err)
			}
		})
	}
}

// TestServe_refusesUserLayoutFS: a user whose own userdb_mail has LAYOUT=fs
// cannot log in (the tree would be read wrong); the log names the option.
func TestServe_refusesUserLayoutFS(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", testUser)
	newMaildir(t, filepath.Join(home, "Maildir"))
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", ""
	cfg.AuthFailureDelay = 0
	cfg.Users = writeFile(t, filepath.Join(dir, "users"), testUser+":"+testHash(t)+"::::"+home+"::userdb_mail=maildir:~/Maildir:LAYOUT=fs\n")
	r := startServe(t, &cfg)
	plain, _ := r.d.Addrs()
	c := dialPlain(t, plain)
	if err := c.Login(testUser, testPassword).Wait(); err == nil {
		t.Fatal("LOGIN of a user with LAYOUT=fs succeeded")
	}
}
