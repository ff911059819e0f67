package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// TestDeliver_quota: the deliver command keeps the user's Maildir++ quota
// from the users file: a delivery past the limit and its grace exits 77
// (EX_NOPERM, a bounce), or 75 (EX_TEMPFAIL) with --quota-full-tempfail,
// and leaves no file; one that fits is recorded in maildirsize.
func TestDeliver_quota(t *testing.T) {
	dir := t.TempDir()
	users := writeFile(t, filepath.Join(dir, "users"),
		"alice:{PLAIN}x:::::: userdb_quota_rule=*:bytes=1000\nbob:{PLAIN}x::::::\n")
	common := []string{"--users", users, "--mail-location", "maildir:" + dir + "/%n/Maildir"}
	alice := filepath.Join(dir, "alice", "Maildir")
	msg := "Subject: hi\n\n" + strings.Repeat("x", 600) + "\n"
	if code := deliverExit(t, msg, append(common, "-d", "alice")...); code != exOK {
		t.Fatalf("first delivery: exit %d", code)
	}
	size, err := os.ReadFile(filepath.Join(alice, "maildirsize"))
	if err != nil || !strings.HasPrefix(string(size), "1000S\n") {
		t.Fatalf("maildirsize %q, %v", size, err)
	}
	if code := deliverExit(t, msg, append(common, "-d", "alice")...); code != exNoPerm {
		t.Errorf("second delivery: exit %d, want %d", code, exNoPerm)
	}
	if code := deliverExit(t, msg, append(common, "--quota-full-tempfail", "-d", "alice")...); code != exTempFail {
		t.Errorf("with --quota-full-tempfail: exit %d, want %d", code, exTempFail)
	}
	if n := len(newFiles(t, alice)); n != 1 {
		t.Errorf("%d messages in new/", n)
	}
	// A user without rules, and a configuration-wide rule.
	for range 3 {
		if code := deliverExit(t, msg, append(common, "-d", "bob")...); code != exOK {
			t.Fatalf("bob: exit %d", code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bob", "Maildir", "maildirsize")); err == nil {
		t.Error("maildirsize written for a user without quota")
	}
	if code := deliverExit(t, msg, append(common, "--quota-rule", "*:messages=3", "-d", "bob")...); code != exNoPerm {
		t.Errorf("bob over --quota-rule: exit %d", code)
	}
}

// TestConfig_quotaRule: quota rules come from TOML and repeated flags
// (commas kept: backend= rules hold them), and a bad one is refused.
func TestConfig_quotaRule(t *testing.T) {
	toml := writeFile(t, filepath.Join(t.TempDir(), "c.toml"),
		"quota_rule = [\"*:storage=1G\", \"Trash:storage=+100M\"]\nquota_grace = \"5%\"\n")
	cfg, err := parseConfig("serve", []string{"--config", toml})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.QuotaRule, "|") != "*:storage=1G|Trash:storage=+100M" || cfg.QuotaGrace != "5%" {
		t.Errorf("from TOML: %q %q", cfg.QuotaRule, cfg.QuotaGrace)
	}
	cfg, err = parseConfig("serve", []string{"--config", toml, "--quota-rule", "*:backend=100S,10C"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.QuotaRule, "|") != "*:backend=100S,10C" {
		t.Errorf("flag: %q", cfg.QuotaRule)
	}
	cfg.QuotaRule = []string{"*:storage=lots"}
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "quota rule") {
		t.Errorf("validate: %v", err)
	}
}

// TestQuota_usersExample: the quota rules of contrib/users.example parse,
// and give dave the limits its comment names.
func TestQuota_usersExample(t *testing.T) {
	f, err := os.Open("../../contrib/users.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	users, err := passwdfile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, u := range users.Users() {
		r, err := quota.FromFields(nil, "", u.Extra)
		if err != nil {
			t.Errorf("%s: %v", u.Name, err)
		}
		if u.Name == "dave@example.org" {
			found = true
			if r == nil || r.Storage != 2<<30 || r.Messages != 50000 || len(r.Mailboxes) != 1 {
				t.Errorf("dave: %+v", r)
			}
		}
	}
	if !found {
		t.Error("no dave in contrib/users.example")
	}
}

// TestCheck_quotaRules: check reports a user's quota rule that does not
// parse, with the user, and a configuration rule that does not parse.
func TestCheck_quotaRules(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home", testUser)
	newMaildir(t, filepath.Join(home, "Maildir"))
	users := writeFile(t, filepath.Join(dir, "users"),
		testUser+":"+testHash(t)+"::::"+home+"::userdb_quota_rule=*:storage=lots\n")
	var out bytes.Buffer
	err := checkMain([]string{"--users", users, "--listen", "127.0.0.1:143"}, &out)
	if err == nil || !strings.Contains(out.String(), `PROBLEM  user "alice" (line 1): user "alice": quota rule "*:storage=lots"`) {
		t.Errorf("check: %v\n%s", err, out.String())
	}
	out.Reset()
	err = checkMain([]string{"--users", users, "--listen", "127.0.0.1:143", "--quota-rule", "*:storage=1G:size=2"}, &out)
	if err == nil || !strings.Contains(out.String(), `quota rule "*:storage=1G:size=2": unknown limit "size"`) {
		t.Errorf("check: %v\n%s", err, out.String())
	}
}
