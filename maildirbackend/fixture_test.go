package maildirbackend_test

import (
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// dovecotArchive is the Maildir tree written by a real Dovecot 2.3.19.1 and
// what that Dovecot reported over IMAP for it (see the archive's comment and
// testdata/gen/gen_fixture.go).
const dovecotArchive = "testdata/dovecot-2.3.txtar"

// fxDateLayout is the IMAP date-time format of INTERNALDATE.
const fxDateLayout = "02-Jan-2006 15:04:05 -0700"

// newDovecotServer serves root the way the fixture's Dovecot was set up:
// namespace prefix "" and separator ".", and no special-use mailboxes (the
// fixture configuration defined none, so Dovecot's LIST shows no \Sent,
// \Drafts... attributes; an empty non-nil map turns our defaults off).
func newDovecotServer(t *testing.T, root string) *maildirtest.Server {
	t.Helper()
	return maildirtest.NewServer(t, &maildirtest.Options{
		Maildir: root,
		Backend: maildirbackend.Options{SpecialUse: map[string]imap.MailboxAttr{}},
	})
}

// TestDovecotFixture_status checks STATUS of every folder against
// Dovecot's: MESSAGES, UIDNEXT (including Trash, whose highest UID was
// expunged, and Junk/Entwürfe, whose uidlist header N lags behind the
// records), UIDVALIDITY, UNSEEN and SIZE (sum of CRLF sizes).
func TestDovecotFixture_status(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	s := newDovecotServer(t, root)
	c := s.Dial(t, nil)
	rc := fxDial(t, s)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			d, err := c.Status(f.Name, &imap.StatusOptions{
				NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true,
			}).Wait()
			if err != nil {
				t.Fatalf("STATUS: %v", err)
			}
			check := func(item string, got *uint32, want uint32) {
				t.Helper()
				if got == nil {
					t.Errorf("STATUS %s missing", item)
				} else if *got != want {
					t.Errorf("STATUS %s = %d, Dovecot said %d", item, *got, want)
				}
			}
			check("MESSAGES", d.NumMessages, f.Messages)
			check("UNSEEN", d.NumUnseen, f.Unseen)
			if d.UIDNext != imap.UID(f.UIDNext) {
				t.Errorf("STATUS UIDNEXT = %d, Dovecot said %d", d.UIDNext, f.UIDNext)
			}
			if d.UIDValidity != f.UIDValidity {
				t.Errorf("STATUS UIDVALIDITY = %d, Dovecot said %d", d.UIDValidity, f.UIDValidity)
			}
			if d.Size == nil || *d.Size != f.Size {
				t.Errorf("STATUS SIZE = %v, Dovecot said %d", d.Size, f.Size)
			}

			// The same on the wire, with Dovecot's item order. RECENT is
			// left out: this server keeps no \Recent state (see
			// fxWantFlags). Deliberate difference: go-imap's server always
			// quotes the mailbox name ("Sent") where Dovecot writes an
			// atom (Sent), so the name is compared by value.
			want := strings.Replace(f.StatusRaw, " RECENT "+fxItoa(f.Recent), "", 1)
			got := fxUntagged(rc.cmd("STATUS %s (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)", fxQuote(f.NameMUTF7)), "STATUS")
			if len(got) != 1 {
				t.Fatalf("STATUS on the wire: %q", got)
			}
			gName, gi, err := fxParseValue(got[0], 0)
			if err != nil {
				t.Fatalf("STATUS on the wire: %q: %v", got[0], err)
			}
			if gName.s != f.NameMUTF7 || got[0][gi:] != want[len(f.NameMUTF7):] {
				t.Errorf("STATUS on the wire:\n got %q\nwant %q", got[0], want)
			}
		})
	}
}

// TestDovecotFixture_fetch EXAMINEs every folder and compares UID FETCH
// 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE
// BODY.PEEK[]) as go-imap's client decodes it with Dovecot's answers.
func TestDovecotFixture_fetch(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	s := newDovecotServer(t, root)
	c := s.Dial(t, nil)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			sel, err := c.Select(f.Name, &imap.SelectOptions{ReadOnly: true}).Wait()
			if err != nil {
				t.Fatalf("EXAMINE: %v", err)
			}
			if sel.NumMessages != f.Messages || sel.UIDNext != imap.UID(f.UIDNext) || sel.UIDValidity != f.UIDValidity {
				t.Errorf("EXAMINE: EXISTS %d UIDNEXT %d UIDVALIDITY %d, Dovecot said %d %d %d",
					sel.NumMessages, sel.UIDNext, sel.UIDValidity, f.Messages, f.UIDNext, f.UIDValidity)
			}
			// FLAGS lists the system flags and the folder's keywords
			// (those of dovecot-keywords).
			if got, want := fxFlagSet(sel.Flags), fxAtomsOf(t, f.ExamineFlags); !slices.Equal(got, want) {
				t.Errorf("EXAMINE FLAGS = %v, Dovecot said %v", got, want)
			}
			body := &imap.FetchItemBodySection{Peek: true}
			msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
				UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
				BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
				BodySection:   []*imap.FetchItemBodySection{body},
			}).Collect()
			if err != nil {
				t.Fatalf("UID FETCH: %v", err)
			}
			if len(msgs) != len(f.MessageList) {
				t.Fatalf("UID FETCH 1:* returned %d messages, Dovecot has %d", len(msgs), len(f.MessageList))
			}
			slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
			for i, m := range f.MessageList {
				got := msgs[i]
				if got.UID != imap.UID(m.UID) {
					t.Errorf("message %d: UID %d, Dovecot said %d", i+1, got.UID, m.UID)
					continue
				}
				fxCheckMessage(t, got, &m, body)
			}
		})
	}
}

// fxCheckMessage compares one message's decoded FETCH data with Dovecot's.
func fxCheckMessage(t *testing.T, got *imapclient.FetchMessageBuffer, m *maildirtest.ExpectedMessage, body *imap.FetchItemBodySection) {
	t.Helper()
	if g, w := fxWantFlags(fxFlagSet(got.Flags)), fxWantFlags(m.Flags); !slices.Equal(g, w) {
		t.Errorf("UID %d FLAGS = %v, Dovecot said %v (\\Recent ignored)", m.UID, g, w)
	}
	if got.RFC822Size != m.RFC822Size {
		t.Errorf("UID %d RFC822.SIZE = %d, Dovecot said %d", m.UID, got.RFC822Size, m.RFC822Size)
	}
	// INTERNALDATE is compared as an instant: Dovecot printed it in its
	// server zone (UTC), and the zone we print in is the host's.
	wantDate, err := time.Parse(fxDateLayout, m.InternalDate)
	if err != nil {
		t.Fatalf("fixture INTERNALDATE %q: %v", m.InternalDate, err)
	}
	if !got.InternalDate.Equal(wantDate) {
		t.Errorf("UID %d INTERNALDATE = %s, Dovecot said %s", m.UID, got.InternalDate.Format(fxDateLayout), m.InternalDate)
	}
	b := got.FindBodySection(body)
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != m.BodySHA256 {
		t.Errorf("UID %d BODY[] (%d bytes) differs from Dovecot's (sha256 %s)", m.UID, len(b), m.BodySHA256)
	}
	if got.BodyStructure == nil {
		t.Errorf("UID %d: no BODYSTRUCTURE", m.UID)
	}
	fxCheckEnvelope(t, m.UID, got.Envelope, m.EnvelopeRaw)
}

// fxCheckEnvelope compares the client-decoded ENVELOPE with Dovecot's raw
// ENVELOPE decoded the same way (RFC 2047 words decoded, <> stripped).
func fxCheckEnvelope(t *testing.T, uid uint32, got *imap.Envelope, raw string) {
	t.Helper()
	if got == nil {
		t.Errorf("UID %d: no ENVELOPE", uid)
		return
	}
	want, err := fxParseAll(raw)
	if err != nil || want.kind != '(' || len(want.kids) != 10 {
		t.Fatalf("fixture envelope_raw %q: %v", raw, err)
	}
	dec := new(mime.WordDecoder)
	decode := func(s string) string {
		d, err := dec.DecodeHeader(s)
		if err != nil {
			return s
		}
		return d
	}
	if w := decode(want.kids[1].s); got.Subject != w {
		t.Errorf("UID %d ENVELOPE subject = %q, Dovecot said %q", uid, got.Subject, w)
	}
	lists := []struct {
		name string
		idx  int
		got  []imap.Address
	}{
		{"from", 2, got.From}, {"sender", 3, got.Sender}, {"reply-to", 4, got.ReplyTo},
		{"to", 5, got.To}, {"cc", 6, got.Cc}, {"bcc", 7, got.Bcc},
	}
	for _, l := range lists {
		var w []string
		for _, a := range want.kids[l.idx].kids {
			w = append(w, decode(a.kids[0].s)+" <"+a.kids[2].s+"@"+a.kids[3].s+">")
		}
		var g []string
		for _, a := range l.got {
			g = append(g, a.Name+" <"+a.Mailbox+"@"+a.Host+">")
		}
		if !slices.Equal(g, w) {
			t.Errorf("UID %d ENVELOPE %s = %q, Dovecot said %q", uid, l.name, g, w)
		}
	}
	var wantIRT []string
	for _, id := range strings.Fields(want.kids[8].s) {
		wantIRT = append(wantIRT, strings.Trim(id, "<>"))
	}
	if !slices.Equal(got.InReplyTo, wantIRT) {
		t.Errorf("UID %d ENVELOPE in-reply-to = %q, Dovecot said %q", uid, got.InReplyTo, wantIRT)
	}
	if w := strings.Trim(want.kids[9].s, "<>"); got.MessageID != w {
		t.Errorf("UID %d ENVELOPE message-id = %q, Dovecot said %q", uid, got.MessageID, w)
	}
}

// TestDovecotFixture_wire compares our raw FETCH ENVELOPE, BODYSTRUCTURE
// and BODY text with the exact text Dovecot sent, message by message.
func TestDovecotFixture_wire(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	s := newDovecotServer(t, root)
	rc := fxDial(t, s)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			rc.cmd("EXAMINE %s", fxQuote(f.NameMUTF7))
			resps := rc.cmd("UID FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)")
			byUID := make(map[string]map[string]string)
			for _, r := range resps {
				if !strings.Contains(r, " FETCH ") {
					continue
				}
				items, err := fxFetchItems(r)
				if err != nil {
					t.Fatal(err)
				}
				byUID[items["UID"]] = items
			}
			if len(byUID) != len(f.MessageList) {
				t.Errorf("UID FETCH 1:* gave %d messages, Dovecot has %d", len(byUID), len(f.MessageList))
			}
			for _, m := range f.MessageList {
				items := byUID[fxItoa(m.UID)]
				if items == nil {
					t.Errorf("UID %d missing", m.UID)
					continue
				}
				// Deliberate difference: go-imap's server (writeAddressList)
				// puts a space between the addresses of an address list,
				// `(("A" NIL "a" "x") ("B" NIL "b" "x"))`, where Dovecot
				// follows RFC 3501's `"(" 1*address ")"` and writes none.
				// Clients read both; ENVELOPE is compared with list spacing
				// normalised and every other byte (quoting, NIL, values,
				// order) exact.
				fxCompareRaw(t, m.UID, "ENVELOPE", items["ENVELOPE"], m.EnvelopeRaw, true)
				fxCompareRaw(t, m.UID, "BODYSTRUCTURE", items["BODYSTRUCTURE"], m.BodyStructureRaw, false)
				fxCompareRaw(t, m.UID, "BODY", items["BODY"], m.BodyRaw, false)
			}
		})
	}
}

// fxCompareRaw wants our wire text to equal Dovecot's byte for byte (or, with
// spacing, up to the spaces between list items), and says whether a
// difference is only in wire form (quoted vs literal, spacing) or in the
// values.
func fxCompareRaw(t *testing.T, uid uint32, item, got, want string, spacing bool) {
	t.Helper()
	if got == want {
		return
	}
	gn, err1 := fxParseAll(got)
	wn, err2 := fxParseAll(want)
	if err1 == nil && err2 == nil && spacing && gn.spaced() == wn.spaced() {
		return
	}
	kind := "values differ"
	if err1 == nil && err2 == nil && gn.canonical() == wn.canonical() {
		kind = "same values, different wire form"
	}
	t.Errorf("UID %d %s (%s):\n got %s\nwant %s", uid, item, kind, got, want)
}

// TestDovecotFixture_list compares LIST, LIST (SUBSCRIBED), LIST RETURN
// (SUBSCRIBED CHILDREN) and LSUB with Dovecot's: the set of mailboxes (by
// wire name, so Entwürfe is Entw&APw-rfe), the delimiter and the attribute
// sets (attribute order carries no meaning in IMAP). Deliberate
// difference: go-imap's server quotes names ("Sent") where Dovecot writes
// atoms (Sent), so names are compared by value.
func TestDovecotFixture_list(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	s := newDovecotServer(t, root)
	rc := fxDial(t, s)
	cases := []struct {
		name string
		cmd  string
		kind string
		want []string
	}{
		{name: "LIST", cmd: `LIST "" "*"`, kind: "LIST", want: exp.ListRaw},
		{name: "LIST_subscribed", cmd: `LIST (SUBSCRIBED) "" "*"`, kind: "LIST", want: exp.ListSubscribedRaw},
		{name: "LIST_return_subscribed_children", cmd: `LIST "" "*" RETURN (SUBSCRIBED CHILDREN)`, kind: "LIST", want: exp.ListReturnSubscribedRaw},
		// go-imap's server turns LSUB into Session.List with
		// SelectSubscribed; Dovecot's LSUB shows "()" for every name,
		// Old-Projects (deleted, still subscribed) included.
		{name: "LSUB", cmd: `LSUB "" "*"`, kind: "LSUB", want: exp.LSubRaw},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fxListSet(t, fxUntagged(rc.cmd("%s", tc.cmd), tc.kind))
			want := fxListSet(t, tc.want)
			for name, w := range want {
				g, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s: missing %s (Dovecot: %s)", tc.cmd, name, w)
				case !g.sameAs(w):
					t.Errorf("%s: %s, Dovecot: %s", tc.cmd, g, w)
				}
			}
			for name, g := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s: extra %s", tc.cmd, g)
				}
			}
		})
	}
}

// fxFlagSet returns flags as a sorted set of strings.
func fxFlagSet(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		out = append(out, string(f))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fxWantFlags returns FETCH FLAGS as a sorted set without \Recent: \Recent
// is session state. Dovecot keeps it in its index (it showed on INBOX 14/15
// and Work 1/2 because no read-write SELECT had claimed them); this server
// keeps it in memory only, and counts as recent, after a start, the
// messages in new/ above every message in cur/ (INBOX 14/15 and Work 2
// here, not Work 1).
func fxWantFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// fxAtomsOf parses a parenthesised flag list such as Dovecot's FLAGS line
// into a sorted set.
func fxAtomsOf(t *testing.T, s string) []string {
	t.Helper()
	n, err := fxParseAll(s)
	if err != nil || n.kind != '(' {
		t.Fatalf("bad flag list %q: %v", s, err)
	}
	var out []string
	for _, k := range n.kids {
		out = append(out, k.raw)
	}
	return fxWantFlags(out)
}

func fxItoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// fxQuote returns an IMAP quoted string.
func fxQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// fxReadFile is os.ReadFile that fails the test.
func fxReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fxFolderDir returns a folder's directory under root.
func fxFolderDir(root string, f *maildirtest.ExpectedFolder) string {
	return filepath.Join(root, filepath.FromSlash(f.DiskDir))
}
