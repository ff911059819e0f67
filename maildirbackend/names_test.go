package maildirbackend

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestNamer_folderDir(t *testing.T) {
	n := namer{root: "/mail/alice/Maildir"}
	tests := []struct {
		name, mailbox, want string
		bad                 bool
	}{
		{name: "inbox", mailbox: "inbox", want: "."},
		{name: "flat", mailbox: "Sent", want: ".Sent"},
		{name: "hierarchy", mailbox: "Work.Clients", want: ".Work.Clients"},
		{name: "mutf7", mailbox: "Entwürfe", want: ".Entw&APw-rfe"},
		{name: "inbox child", mailbox: "inbox.x", want: ".INBOX.x"},
		{name: "dotdot", mailbox: "..", bad: true},
		{name: "parent escape", mailbox: "../x", bad: true},
		{name: "slash", mailbox: "a/b", bad: true},
		{name: "absolute", mailbox: "/etc", bad: true},
		{name: "empty level", mailbox: "a..b", bad: true},
		{name: "leading dot", mailbox: ".a", bad: true},
		{name: "control", mailbox: "a\x01b", bad: true},
		{name: "wildcard", mailbox: "a*", bad: true},
		{name: "too long", mailbox: strings.Repeat("x", 300), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := n.folderDir(tt.mailbox)
			if tt.bad {
				if err == nil {
					t.Fatalf("folderDir(%q) = %q, want an error", tt.mailbox, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("folderDir(%q) = %q, %v; want %q", tt.mailbox, got, err, tt.want)
			}
		})
	}
}

// FuzzNamer_staysInRoot: whatever the name, the folder is the root or one
// directory directly inside it, and reading it back gives the name.
func FuzzNamer_staysInRoot(f *testing.F) {
	for _, s := range []string{"INBOX", "Sent", "a.b", "..", "../x", "a/b", "Entwürfe", "&-", "&AGEAYgBj-", ".", "a.", "\x00"} {
		f.Add(s)
	}
	namers := []namer{{root: "/mail/Maildir"}, {root: "/mail/Maildir", prefix: "INBOX."}}
	f.Fuzz(func(t *testing.T, name string) {
		for _, n := range namers {
			p, err := n.path(name)
			if err != nil || p == n.root {
				continue
			}
			if filepath.Dir(p) != n.root {
				t.Fatalf("prefix %q: path(%q) = %q, outside %s", n.prefix, name, p, n.root)
			}
			back, ok := n.mailboxName(filepath.Base(p))
			if !ok {
				t.Fatalf("prefix %q: path(%q) = %q, which mailboxName does not accept", n.prefix, name, p)
			}
			if canon, _ := n.canonical(name); back != canon {
				t.Fatalf("prefix %q: path(%q) = %q reads back as %q", n.prefix, name, p, back)
			}
		}
	})
}
