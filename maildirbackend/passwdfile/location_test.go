package passwdfile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

func TestExpandLocation_valid(t *testing.T) {
	alice := &passwdfile.User{Name: "alice", Home: "/home/alice"}
	bob := &passwdfile.User{Name: "Bob@Example.org", Home: "/srv/vmail/example.org/bob"}
	nohome := &passwdfile.User{Name: "carol@example.net"}
	pctHome := &passwdfile.User{Name: "dan", Home: "/home/100%u"}
	tests := []struct {
		name     string
		template string
		user     *passwdfile.User
		want     string
	}{
		{"default", "", alice, "/home/alice/Maildir"},
		{"tilde", "~/Mail", alice, "/home/alice/Mail"},
		{"tilde alone", "~", alice, "/home/alice"},
		{"maildir prefix", "maildir:~/Maildir", alice, "/home/alice/Maildir"},
		{"maildir prefix upper", "MAILDIR:~/Maildir", alice, "/home/alice/Maildir"},
		{"options ignored", "maildir:~/Maildir:INDEX=/var/idx/%u:LAYOUT=fs", alice, "/home/alice/Maildir"},
		{"escaped colon", "maildir:/srv/a::b/%u:INDEX=MEMORY", alice, "/srv/a:b/alice"},
		{"virtual domain", "maildir:/srv/vmail/%d/%n", bob, "/srv/vmail/Example.org/Bob"},
		{"virtual domain lower", "maildir:/srv/vmail/%Ld/%Ln", bob, "/srv/vmail/example.org/bob"},
		{"full user", "/var/mail/%u", bob, "/var/mail/Bob@Example.org"},
		{"long forms", "/v/%{domain}/%{username}/%{user}", bob, "/v/Example.org/Bob/Bob@Example.org"},
		{"long lower", "/v/%L{domain}/%L{username}", bob, "/v/example.org/bob"},
		{"home var", "%h/Maildir", bob, "/srv/vmail/example.org/bob/Maildir"},
		{"home long", "%{home}/.maildir", alice, "/home/alice/.maildir"},
		{"literal percent", "/srv/100%%/%n", alice, "/srv/100%/alice"},
		{"home with percent", "~/M", pctHome, "/home/100%u/M"},
		{"no home needed", "/srv/vmail/%d/%n/Maildir", nohome, "/srv/vmail/example.net/carol/Maildir"},
		{"cleaned", "/srv//vmail/./%n/", alice, "/srv/vmail/alice"},
		{"dots in name ok", "/srv/%n", &passwdfile.User{Name: "j.doe..x@example.org"}, "/srv/j.doe..x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := passwdfile.ExpandLocation(tc.template, tc.user)
			if err != nil || got != tc.want {
				t.Fatalf("ExpandLocation(%q) = %q, %v; want %q", tc.template, got, err, tc.want)
			}
		})
	}
}

func TestExpandLocation_errors(t *testing.T) {
	alice := &passwdfile.User{Name: "alice", Home: "/home/alice"}
	user := func(name string) *passwdfile.User { return &passwdfile.User{Name: name, Home: "/home/x"} }
	tests := []struct {
		name     string
		template string
		user     *passwdfile.User
		want     string
	}{
		{"nil user", "", nil, "no user"},
		{"no home", "", &passwdfile.User{Name: "carol"}, "no home directory"},
		{"no home var", "%h/Maildir", &passwdfile.User{Name: "carol"}, "no home directory"},
		{"tilde user", "~bob/Maildir", alice, "~user"},
		{"relative", "Maildir/%u", alice, "not an absolute path"},
		{"relative after prefix", "maildir:Maildir", alice, "not an absolute path"},
		{"other format", "sdbox:~/dbox", alice, `format "sdbox" is not maildir`},
		{"unknown var", "/srv/%x", alice, "unknown variable %x"},
		{"unknown long var", "/srv/%{service}", alice, "unknown variable %service"},
		{"trailing percent", "/srv/%", alice, "trailing '%'"},
		{"unterminated", "/srv/%{user", alice, "unterminated"},
		{"no domain", "/srv/%d/%n", alice, "%d of user \"alice\": expands to an empty string"},
		{"no user part", "/srv/%d/%n", user("@example.org"), "%n"},
		// Escape attempts: a user name must never leave the mail root.
		{"dotdot user", "/srv/vmail/%u", user(".."), "not a valid path component"},
		{"dot user", "/srv/vmail/%n/Maildir", user(".@example.org"), "not a valid path component"},
		{"dotdot domain", "/srv/vmail/%d/%n", user("alice@.."), "not a valid path component"},
		{"slash user", "/srv/vmail/%u", user("../../etc"), "path separator"},
		{"slash domain", "/srv/vmail/%d/%n", user("root@../../etc"), "path separator"},
		{"slash long", "/srv/vmail/%{username}", user("a/b"), "path separator"},
		{"backslash", "/srv/vmail/%u", user(`a\b`), "path separator"},
		{"newline", "/srv/vmail/%u", user("a\nb"), "control character"},
		{"nul", "/srv/vmail/%n", user("a\x00b@x"), "control character"},
		{"lowercase does not hide", "/srv/vmail/%Lu", user("../X"), "path separator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := passwdfile.ExpandLocation(tc.template, tc.user)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ExpandLocation(%q) = %q, %v; want error containing %q", tc.template, got, err, tc.want)
			}
		})
	}
}

// FuzzExpandLocation checks the security property: whatever the user name, a
// successful expansion of a template under /mail stays under /mail, one
// directory per variable.
func FuzzExpandLocation(f *testing.F) {
	for _, s := range []string{"alice", "bob@example.org", "..", "../x", "a/b", "@", "a@..", ".@.", "x\x00", "%u", "~", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		u := &passwdfile.User{Name: name, Home: "/home/x"}
		for tmpl, depth := range map[string]int{"/mail/%u": 2, "/mail/%d/%n": 3, "maildir:/mail/%Ld/%Ln/Maildir:INDEX=x": 4} {
			got, err := passwdfile.ExpandLocation(tmpl, u)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(got, "/mail/") || strings.Count(got, "/") != depth || strings.Contains(got, "/../") || strings.HasSuffix(got, "/..") {
				t.Fatalf("ExpandLocation(%q, %q) = %q escapes /mail", tmpl, name, got)
			}
		}
	})
}

func TestParseLocation_options(t *testing.T) {
	alice := &passwdfile.User{Name: "alice@example.org", Home: "/home/alice"}
	tests := []struct {
		name     string
		template string
		want     passwdfile.Location
	}{
		{"none", "maildir:~/Maildir", passwdfile.Location{Path: "/home/alice/Maildir"}},
		{"real config", "maildir:~/Maildir:CONTROL=/var/lib/dovecot/control/%u:INDEX=/var/lib/dovecot/index/%u:LAYOUT=fs:UTF8:INBOX=~/Inbox",
			passwdfile.Location{Path: "/home/alice/Maildir", Control: "/var/lib/dovecot/control/alice@example.org",
				Index: "/var/lib/dovecot/index/alice@example.org", Layout: "fs", UTF8: true, Inbox: "/home/alice/Inbox"}},
		{"control in home", "maildir:~/Maildir:CONTROL=~/.control", passwdfile.Location{Path: "/home/alice/Maildir", Control: "/home/alice/.control"}},
		{"index memory", "maildir:~/Maildir:INDEX=MEMORY", passwdfile.Location{Path: "/home/alice/Maildir", Index: "MEMORY"}},
		{"lower case keys", "maildir:~/Maildir:utf8:layout=maildir++", passwdfile.Location{Path: "/home/alice/Maildir", UTF8: true, Layout: "maildir++"}},
		{"others kept", "maildir:~/Maildir:VOLATILEDIR=/tmp/v:NO-NOSELECT", passwdfile.Location{Path: "/home/alice/Maildir", Other: []string{"VOLATILEDIR=/tmp/v", "NO-NOSELECT"}}},
		{"trailing colon", "maildir:~/Maildir:", passwdfile.Location{Path: "/home/alice/Maildir"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := passwdfile.ParseLocation(tc.template, alice)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("ParseLocation(%q) =\n%+v\nwant\n%+v", tc.template, *got, tc.want)
			}
		})
	}
	for _, bad := range []string{"maildir:~/M:CONTROL=relative", "maildir:~/M:INDEX=%x", "maildir:~/M:INBOX=~bob/x"} {
		if _, err := passwdfile.ParseLocation(bad, alice); err == nil {
			t.Errorf("ParseLocation(%q) succeeded", bad)
		}
	}
}
