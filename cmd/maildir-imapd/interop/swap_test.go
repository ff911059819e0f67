package interop

import (
	"fmt"
	"testing"
)

// deliverInbox delivers n messages MTA-style into the account's INBOX,
// keyed inbox-1 … inbox-n.
func deliverInbox(t *testing.T, a *account, n int) *mta {
	t.Helper()
	m := newMTA(a.owner)
	for i := 1; i <= n; i++ {
		if _, err := m.deliver(a.maildir, fmt.Sprintf("inbox-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// compareStates fails unless the second server reports exactly what the
// first one did.
func compareStates(t *testing.T, firstName string, first *state, secondName string, second *state) {
	t.Helper()
	if a, b := first.String(), second.String(); a != b {
		t.Errorf("%s and %s disagree (- %s only, + %s only):\n%s\n%s reported:\n%s",
			firstName, secondName, firstName, secondName, diffLines(a, b), firstName, a)
	}
}

// checkScenario checks the facts of exercise that do not depend on the
// server: which messages ended where with which flags.
// created is exercise's result.
func checkScenario(t *testing.T, s *state, created map[string]uint32) {
	t.Helper()
	want := map[string][]string{
		"INBOX":   {"inbox-1", "inbox-2", "inbox-3"},
		mbWork:    {"append-1", "append-2"},
		mbClients: {"append-3", "inbox-5"},
		mbArchive: {"inbox-2", "inbox-3"},
		mbDrafts:  {"append-4"},
	}
	if len(s.Mailboxes) != len(want) {
		t.Errorf("mailboxes: got %d, want %d:\n%s", len(s.Mailboxes), len(want), s)
	}
	for name, keys := range want {
		mb, ok := s.Mailboxes[name]
		if !ok {
			t.Errorf("mailbox %q missing:\n%s", name, s)
			continue
		}
		var got []string
		for _, m := range mb.Messages {
			got = append(got, m.Key)
		}
		if fmt.Sprint(got) != fmt.Sprint(keys) {
			t.Errorf("mailbox %q holds %v, want %v", name, got, keys)
		}
		if v, ok := created[name]; ok && v != mb.UIDValidity {
			t.Errorf("mailbox %q: UIDVALIDITY %d, but STATUS said %d right after CREATE", name, mb.UIDValidity, v)
		}
		if mb.UIDValidity == 0 || mb.UIDNext == 0 {
			t.Errorf("mailbox %q: UIDVALIDITY %d UIDNEXT %d", name, mb.UIDValidity, mb.UIDNext)
		}
	}
	flags := map[string]string{}
	for name, mb := range s.Mailboxes {
		for _, m := range mb.Messages {
			flags[name+"/"+m.Key] = fmt.Sprint(m.Flags)
		}
	}
	for k, v := range map[string]string{
		"INBOX/inbox-2":         `[$Forwarded \Flagged]`,
		"INBOX/inbox-3":         `[$label1 Project-X \Answered]`,
		"Archive/inbox-3":       `[$label1 Project-X \Answered]`,
		"Work.Clients/inbox-5":  `[$label1 \Seen]`,
		"Work/append-1":         `[$NonJunk \Seen]`,
		"Work/append-2":         `[]`,
		"Work.Clients/append-3": `[Project-X]`,
		"Entwürfe/append-4":     `[\Draft]`,
	} {
		if flags[k] != v {
			t.Errorf("%s: flags %s, want %s", k, flags[k], v)
		}
	}
	if got, want := fmt.Sprint(s.Subscribed), fmt.Sprint([]string{"Entwürfe", "INBOX", mbGone, mbWork, mbClients}); got != want {
		t.Errorf("subscriptions %s, want %s", got, want)
	}
}

// TestSwap_dovecotFirst: Dovecot assigns UIDs, keywords, folders and
// subscriptions on a Maildir of MTA deliveries; after Dovecot stopped,
// maildir-imapd reports exactly the same UIDVALIDITY, UIDNEXT, UIDs, flags,
// keywords and subscriptions.
//
// With CONTROL= and INDEX= in mail_location (Dovecot 2.3's form in real
// configurations), the control files are where Dovecot put them, apart from
// the Maildir, and maildir-imapd finds them there.
func TestSwap_dovecotFirst(t *testing.T) {
	for name, location := range swapLocations {
		t.Run(name, func(t *testing.T) { testSwapDovecotFirst(t, location) })
	}
}

// swapLocations are the mail locations the swap tests run with.
var swapLocations = map[string]string{
	"default": "maildir:~/Maildir",
	"control": "maildir:~/Maildir:CONTROL=~/control:INDEX=~/index",
}

func testSwapDovecotFirst(t *testing.T, location string) {
	a := newAccount(t)
	a.location = location
	deliverInbox(t, a, 5)

	dc := startDovecot(t, a)
	c := dial(t, dc.Addr, nil)
	created := exercise(t, c)
	before := snapshotAt(t, dc.Addr)
	t.Logf("state:\n%s", before)
	checkScenario(t, before, created)
	logout(t, c)
	dc.Stop(t)
	dc.CheckLog(t)

	d := startImapd(t, a)
	after := snapshotAt(t, d.Addr)
	compareStates(t, "dovecot", before, "maildir-imapd", after)
	d.CheckLog(t)
}

// TestSwap_imapdFirst: maildir-imapd assigns UIDs, keywords, folders and
// subscriptions; after it stopped, Dovecot serves them unchanged and logs
// no uidlist corruption.
func TestSwap_imapdFirst(t *testing.T) {
	for name, location := range swapLocations {
		t.Run(name, func(t *testing.T) { testSwapImapdFirst(t, location) })
	}
}

func testSwapImapdFirst(t *testing.T, location string) {
	a := newAccount(t)
	a.location = location
	deliverInbox(t, a, 5)

	d := startImapd(t, a)
	c := dial(t, d.Addr, nil)
	created := exercise(t, c)
	before := snapshotAt(t, d.Addr)
	t.Logf("state:\n%s", before)
	checkScenario(t, before, created)
	logout(t, c)
	d.Stop(t)
	d.CheckLog(t)

	dc := startDovecot(t, a)
	after := snapshotAt(t, dc.Addr)
	compareStates(t, "maildir-imapd", before, "dovecot", after)
	// A second look: Dovecot's first sync may have rewritten files.
	again := snapshotAt(t, dc.Addr)
	compareStates(t, "dovecot (first look)", after, "dovecot (second look)", again)
	dc.Stop(t)
	dc.CheckLog(t)
}
