package interop

import (
	"slices"
	"strings"
	"testing"
)

// notifyCommands are NOTIFY commands whose answers TestNotify_dovecotCommands
// compares, with a mailbox Work holding one message and INBOX selected.
var notifyCommands = []struct {
	args string
	// differs describes a documented difference (docs/differences.md),
	// and ours is then our answer; empty: the answers must be equal once
	// UIDVALIDITY and the texts of tagged replies are left out.
	differs string
	ours    []string
}{
	{args: "SET STATUS (personal (MessageNew MessageExpunge))"},
	{args: "SET STATUS (mailboxes Work (MessageNew MessageExpunge FlagChange))", differs: "Dovecot turns CONDSTORE on for FlagChange: HIGHESTMODSEQ",
		ours: []string{"* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY v UNSEEN 1)", "OK"}},
	{args: "SET (selected (MessageNew (UID FLAGS) MessageExpunge)) (subtree Work (MessageNew))"},
	{args: "SET (selected-delayed (MessageNew MessageExpunge FlagChange))"},
	{args: "NONE"},
	{args: "SET (personal (MessageNew MessageExpunge AnnotationChange))", differs: "BADEVENT lists the supported events (RFC 5465); Dovecot the unsupported ones",
		ours: []string{"NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"}},
	{args: "SET (selected (MessageNew))"},
	{args: "SET (selected (FlagChange))"},
	{args: "SET (selected NONE) (selected-delayed NONE)"},
	{args: "SET (inboxes (MessageNew MessageExpunge)) (personal NONE)"},
	{args: "SET (nothing (MessageNew MessageExpunge))"},
	{args: "BOGUS"},
}

// notifyAnswer runs one NOTIFY and returns its untagged lines and the
// tagged reply's status and response code.
func notifyAnswer(c *notifyClient, args string) []string {
	u, tagged := c.cmd("NOTIFY " + args)
	out := make([]string, 0, len(u)+1)
	for _, l := range u {
		out = append(out, uidvalidityRE.ReplaceAllString(l, "UIDVALIDITY v"))
	}
	word, rest, _ := strings.Cut(tagged, " ")
	if strings.HasPrefix(rest, "[") {
		code, _, _ := strings.Cut(rest[1:], "]")
		word += " [" + code + "]"
	}
	return append(out, word)
}

// TestNotify_dovecotCommands gives both servers the same NOTIFY commands
// and compares their answers.
func TestNotify_dovecotCommands(t *testing.T) {
	run := func(addr string) [][]string {
		c := dialNotify(t, addr)
		c.ok("CREATE Work")
		appendBy(c, "Work", "c1")
		c.ok("SELECT INBOX")
		var got [][]string
		for _, nc := range notifyCommands {
			got = append(got, notifyAnswer(c, nc.args))
		}
		return got
	}
	da := newAccount(t)
	dov := startDovecot(t, da)
	ia := newAccount(t)
	imd := startImapd(t, ia)
	dgot, igot := run(dov.Addr), run(imd.Addr)
	for i, nc := range notifyCommands {
		switch {
		case nc.differs != "":
			if !slices.Equal(igot[i], nc.ours) {
				t.Errorf("NOTIFY %s: ours %q, want %q (%s; Dovecot: %q)", nc.args, igot[i], nc.ours, nc.differs, dgot[i])
			}
		case !slices.Equal(dgot[i], igot[i]):
			t.Errorf("NOTIFY %s:\n dovecot: %q\n ours:    %q", nc.args, dgot[i], igot[i])
		}
	}
}
