package maildirbackend_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/courier"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// courierArchive is the Maildir tree written by a real Courier-IMAP 5.0.13
// and what that Courier reported over IMAP for it (see
// docs/fixtures/courier-5.0.md).
const courierArchive = "internal/courier/testdata/courier-5.0.txtar"

// TestCourierFixture_migration is the swap from Courier-IMAP: the tree
// Courier left is served with Courier's namespace (prefix "INBOX.") and
// UTF-8 folder names, and every client-visible piece of state must be what
// Courier reported: per folder UIDVALIDITY, UIDNEXT, every message's UID
// and FLAGS with keywords (\Recent aside), and the subscriptions.
//
// "converted on open" relies on the backend importing Courier's state by
// itself (courier.Convert when a folder is loaded, courier.ConvertSubscriptions
// at login); "converted beforehand" runs the import first, so it checks
// that the backend serves the converted tree faithfully.
func TestCourierFixture_migration(t *testing.T) {
	tests := []struct {
		name       string
		preconvert bool
	}{
		{"converted on open", false},
		{"converted beforehand", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, exp := maildirtest.Fixture(t, courierArchive)
			if tc.preconvert {
				crConvertAll(t, root, exp)
			}
			s := maildirtest.NewServer(t, &maildirtest.Options{
				Maildir: root,
				Backend: maildirbackend.Options{Prefix: "INBOX.", UTF8FolderNames: true},
			})
			c := s.Dial(t, nil)
			// Subscriptions first: the conversion must not depend on a
			// folder having been opened.
			crCheckSubscriptions(t, c, exp)
			for i := range exp.Folders {
				f := &exp.Folders[i]
				t.Run(f.Name, func(t *testing.T) { crCheckFolder(t, c, f) })
			}
		})
	}
}

// crConvertAll imports every folder and the subscriptions of a Courier tree.
func crConvertAll(t *testing.T, root string, exp *maildirtest.Expected) {
	t.Helper()
	for _, f := range exp.Folders {
		if ok, err := courier.Convert(filepath.Join(root, filepath.FromSlash(f.DiskDir))); err != nil || !ok {
			t.Fatalf("Convert %s = %v, %v", f.Name, ok, err)
		}
	}
	if ok, err := courier.ConvertSubscriptions(root); err != nil || !ok {
		t.Fatalf("ConvertSubscriptions = %v, %v", ok, err)
	}
}

// crCheckFolder compares STATUS, EXAMINE and UID FETCH 1:* (UID FLAGS) of
// one folder with Courier's answers.
func crCheckFolder(t *testing.T, c *imapclient.Client, f *maildirtest.ExpectedFolder) {
	st, err := c.Status(f.Name, &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	if st.UIDValidity != f.UIDValidity || st.UIDNext != imap.UID(f.UIDNext) ||
		st.NumMessages == nil || *st.NumMessages != f.Messages {
		t.Errorf("STATUS: UIDVALIDITY %d UIDNEXT %d MESSAGES %v, Courier said %d %d %d",
			st.UIDValidity, st.UIDNext, st.NumMessages, f.UIDValidity, f.UIDNext, f.Messages)
	}
	sel, err := c.Select(f.Name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE: %v", err)
	}
	if sel.UIDValidity != f.UIDValidity || sel.UIDNext != imap.UID(f.UIDNext) || sel.NumMessages != f.Messages {
		t.Errorf("EXAMINE: UIDVALIDITY %d UIDNEXT %d EXISTS %d, Courier said %d %d %d",
			sel.UIDValidity, sel.UIDNext, sel.NumMessages, f.UIDValidity, f.UIDNext, f.Messages)
	}
	// FLAGS: the system flags plus the folder's keywords, as Courier's.
	if got, want := crFlagSet(sel.Flags), crFlagSet(crAtoms(f.ExamineFlags)); !slices.Equal(got, want) {
		t.Errorf("EXAMINE FLAGS %v, Courier said %v", got, want)
	}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH: %v", err)
	}
	got := make(map[imap.UID][]string, len(msgs))
	for _, m := range msgs {
		got[m.UID] = crFlagSet(m.Flags)
	}
	if len(got) != len(f.MessageList) {
		t.Errorf("UID FETCH 1:* gave %d messages, Courier has %d", len(got), len(f.MessageList))
	}
	for _, m := range f.MessageList {
		flags, ok := got[imap.UID(m.UID)]
		if !ok {
			t.Errorf("UID %d (%s) missing", m.UID, m.BaseFilename)
			continue
		}
		want := make([]imap.Flag, 0, len(m.Flags))
		for _, fl := range m.Flags {
			want = append(want, imap.Flag(fl))
		}
		if w := crFlagSet(want); !slices.Equal(flags, w) {
			t.Errorf("UID %d FLAGS %v, Courier said %v", m.UID, flags, w)
		}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
}

// crCheckSubscriptions compares LIST (SUBSCRIBED) with Courier's LSUB
// (names it did not mark \Noselect, including the nonexistent
// INBOX.Old-Projects) and LIST RETURN (SUBSCRIBED) with each folder's
// subscribed bit.
func crCheckSubscriptions(t *testing.T, c *imapclient.Client, exp *maildirtest.Expected) {
	t.Helper()
	utf8Of := make(map[string]string) // wire (mUTF-7) name -> UTF-8
	for _, f := range exp.Folders {
		utf8Of[f.NameMUTF7] = f.Name
	}
	var want []string
	for _, line := range exp.LSubRaw {
		if strings.Contains(line, `\Noselect`) {
			continue
		}
		name := line[strings.LastIndex(line[:len(line)-1], `"`)+1 : len(line)-1]
		if u, ok := utf8Of[name]; ok {
			name = u
		}
		want = append(want, name)
	}
	slices.Sort(want)

	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST (SUBSCRIBED): %v", err)
	}
	var got []string
	for _, d := range subs {
		got = append(got, d.Mailbox)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("LIST (SUBSCRIBED) %q, Courier's LSUB %q", got, want)
	}

	all, err := c.List("", "*", &imap.ListOptions{ReturnSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST RETURN (SUBSCRIBED): %v", err)
	}
	listed := make(map[string]bool)
	for _, d := range all {
		listed[d.Mailbox] = slices.Contains(d.Attrs, imap.MailboxAttrSubscribed)
	}
	for _, f := range exp.Folders {
		sub, ok := listed[f.Name]
		if !ok {
			t.Errorf("LIST: %s missing", f.Name)
		} else if sub != f.Subscribed {
			t.Errorf("LIST: %s \\Subscribed = %v, Courier said %v", f.Name, sub, f.Subscribed)
		}
	}
	if len(listed) != len(exp.Folders) {
		t.Errorf("LIST gave %d mailboxes, Courier had %d", len(listed), len(exp.Folders))
	}
}

// crFlagSet returns flags as sorted strings without \Recent (this server
// keeps no \Recent state) and \* (a PERMANENTFLAGS item).
func crFlagSet(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) || f == imap.FlagWildcard {
			continue
		}
		out = append(out, strings.ToLower(string(f)))
	}
	slices.Sort(out)
	return out
}

// crAtoms splits a parenthesised flag list such as "(a \Seen)".
func crAtoms(list string) []imap.Flag {
	var out []imap.Flag
	for _, a := range strings.Fields(strings.Trim(list, "()")) {
		out = append(out, imap.Flag(a))
	}
	return out
}
