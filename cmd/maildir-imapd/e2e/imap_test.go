package e2e

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// dialIMAP connects go-imap's client to addr and logs in as testUser. The
// client is closed at cleanup.
func dialIMAP(t *testing.T, addr string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

// serverMsg is one message as the daemon reports it.
type serverMsg struct {
	UID   imap.UID
	Flags []string // sorted
	Plain string   // normalised BODY[]
}

// serverMailbox is a read-only snapshot of one mailbox over IMAP.
type serverMailbox struct {
	UIDValidity uint32
	Msgs        []serverMsg // by UID
}

// snapshotMailbox EXAMINEs name and fetches UID, FLAGS and BODY.PEEK[] of
// every message.
func snapshotMailbox(t *testing.T, c *imapclient.Client, name string) serverMailbox {
	t.Helper()
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE %s: %v", name, err)
	}
	snap := serverMailbox{UIDValidity: sel.UIDValidity}
	if sel.NumMessages == 0 {
		return snap
	}
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{body},
	}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH %s: %v", name, err)
	}
	for _, m := range msgs {
		// \Recent is session state (a restart makes unclaimed messages
		// recent again): not part of what a sync must keep.
		flags := make([]string, 0, len(m.Flags))
		for _, f := range m.Flags {
			if f != `\Recent` {
				flags = append(flags, string(f))
			}
		}
		slices.Sort(flags)
		snap.Msgs = append(snap.Msgs, serverMsg{UID: m.UID, Flags: flags, Plain: normalize(string(m.FindBodySection(body)))})
	}
	slices.SortFunc(snap.Msgs, func(a, b serverMsg) int { return int(a.UID) - int(b.UID) })
	return snap
}

// snapshotServer snapshots each of mailboxes over a fresh connection.
func snapshotServer(t *testing.T, addr string, mailboxes []string) map[string]serverMailbox {
	t.Helper()
	c := dialIMAP(t, addr, nil)
	out := make(map[string]serverMailbox)
	for _, name := range mailboxes {
		out[name] = snapshotMailbox(t, c, name)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("LOGOUT: %v", err)
	}
	return out
}

// msgBySubject returns the message of snap with the given subject.
func msgBySubject(t *testing.T, snap serverMailbox, subject string) serverMsg {
	t.Helper()
	for _, m := range snap.Msgs {
		if hasSubject(m.Plain, subject) {
			return m
		}
	}
	t.Fatalf("server: no message with subject %q among %d", subject, len(snap.Msgs))
	return serverMsg{}
}
