package maildirbackend_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// RENAME renames each child on its own, as Dovecot 2.3 does: a child whose
// new name is taken stays under its old name, with its messages and its
// subscription, and the command answers OK (differential seeds 6, 12, 17).
// Nothing is merged into or written over the existing mailbox.
func TestRename_childTargetTaken(t *testing.T) {
	tests := []struct {
		name   string
		create []string // besides the children B.y, B.z and the taken C.z
	}{
		{"parent without folder", nil},
		{"parent with folder", []string{"B"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := maildirtest.NewServer(t, nil)
			c := s.Dial(t, nil)
			for _, n := range append(tc.create, "B.y", "B.z", "C.z") {
				mustOK(t, c.Create(n, nil).Wait())
			}
			appendOne(t, c, "B.z", "from B.z")
			appendOne(t, c, "C.z", "from C.z")
			mustOK(t, c.Subscribe("B.y").Wait())
			mustOK(t, c.Subscribe("B.z").Wait())

			if err := c.Rename("B", "C", nil).Wait(); err != nil {
				t.Fatalf("RENAME B C = %v, want OK (as Dovecot)", err)
			}
			names := listNames(t, c)
			for _, want := range []string{" C.y ", " C.z ", " B.z "} {
				if !strings.Contains(names, want) {
					t.Errorf("LIST = %s, want %s in it", names, want)
				}
			}
			if strings.Contains(names, " B.y ") {
				t.Errorf("LIST = %s, B.y should have moved", names)
			}
			for _, mbox := range []string{"B.z", "C.z"} {
				st, err := c.Status(mbox, &imap.StatusOptions{NumMessages: true}).Wait()
				if err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
					t.Errorf("STATUS %s = %+v, %v; want 1 message", mbox, st, err)
				}
			}
			// Subscriptions are not renamed, as in Dovecot 2.3: the
			// client moves its own.
			subs := subscribedNames(t, c)
			if !slices.Contains(subs, "B.y") || !slices.Contains(subs, "B.z") || slices.Contains(subs, "C.y") {
				t.Errorf("LSUB = %q, want B.y and B.z, as subscribed before", subs)
			}
		})
	}
}

// TestRename_seed12 replays the shrunk differential seed 12: the second
// RENAME finds nothing that can move and still answers OK, as Dovecot.
func TestRename_seed12(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	mustOK(t, c.Create("B.z", nil).Wait())
	mustOK(t, c.Rename("B", "Entwürfe", nil).Wait())
	mustOK(t, c.Create("A.x.deep", nil).Wait())
	mustOK(t, c.Rename("A.x.deep", "B.z", nil).Wait())
	if err := c.Rename("B", "Entwürfe", nil).Wait(); err != nil {
		t.Fatalf("second RENAME B Entwürfe = %v, want OK (as Dovecot)", err)
	}
	names := listNames(t, c)
	if !strings.Contains(names, " B.z ") || !strings.Contains(names, " Entwürfe.z ") {
		t.Errorf("LIST = %s, want B.z and Entwürfe.z", names)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// appendOne appends a small message with the given subject to mbox.
func appendOne(t *testing.T, c *imapclient.Client, mbox, subject string) {
	t.Helper()
	msg := "Subject: " + subject + "\r\n\r\nbody\r\n"
	cmd := c.Append(mbox, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// subscribedNames returns the mailboxes LSUB "" "*" lists.
func subscribedNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	mboxes, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range mboxes {
		out = append(out, m.Mailbox)
	}
	return out
}

// TestRename_childThatStaysKeepsItsSessions: a session that selected a
// child which RENAME of its parent leaves where it is (its new name is
// taken) keeps its messages and its updates, as in Dovecot: the folder did
// not move (differential seed 1001: maildir-imapd retired every folder
// under the old name, and the session saw its messages expunged).
func TestRename_childThatStaysKeepsItsSessions(t *testing.T) {
	for _, cmd := range []string{"SELECT", "EXAMINE"} {
		t.Run(cmd, func(t *testing.T) {
			s := maildirtest.NewServer(t, nil)
			c := s.Dial(t, nil)
			for _, n := range []string{"B.y", "B.z", "C.z"} {
				mustOK(t, c.Create(n, nil).Wait())
			}
			appendOne(t, c, "B.z", "one")
			appendOne(t, c, "B.y", "moves")
			other := s.Dial(t, nil)
			if _, err := other.Select("B.z", &imap.SelectOptions{ReadOnly: cmd == "EXAMINE"}).Wait(); err != nil {
				t.Fatal(err)
			}
			mustOK(t, c.Rename("B", "C", nil).Wait())
			mustOK(t, other.Noop().Wait())
			if m := fetchAll(t, other); len(m) != 1 || m[0].UID != 1 {
				t.Fatalf("after RENAME of the parent: %d messages, want B.z's one (UID 1)", len(m))
			}
			appendOne(t, c, "B.z", "two")
			mustOK(t, other.Noop().Wait())
			if m := fetchAll(t, other); len(m) != 2 || m[1].UID != 2 {
				t.Fatalf("after an APPEND into B.z: %d messages, want 2", len(m))
			}
		})
	}
}

// TestRename_intoItsParentMovesTheChain: RENAME B.z B moves B.z to B, then
// each child up one level in ascending order, so that B.z.z takes the
// place B.z left and B.z.z.z the place B.z.z left, as Dovecot 2.3 does
// (checked by hand; differential seed 13, step 11,131: maildir-imapd
// judged the new names by the folders before the rename and left B.z.z.z
// where it was).
func TestRename_intoItsParentMovesTheChain(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	for _, n := range []string{"B.z", "B.z.z", "B.z.z.z"} {
		mustOK(t, c.Create(n, nil).Wait())
		appendOne(t, c, n, "from "+n)
	}
	mustOK(t, c.Rename("B.z", "B", nil).Wait())
	if names, want := listNames(t, c), " INBOX B B.z B.z.z "; names != want {
		t.Errorf("LIST after RENAME B.z B = %q, want %q", names, want)
	}
	for mbox, from := range map[string]string{"B": "B.z", "B.z": "B.z.z", "B.z.z": "B.z.z.z"} {
		if _, err := c.Select(mbox, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		m, err := c.Fetch(seqSetAll(), &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || m[0].Envelope.Subject != "from "+from {
			t.Errorf("%s holds %d messages, want the one from %s", mbox, len(m), from)
		}
	}
}
