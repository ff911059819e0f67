package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"net/textproto"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// dial connects and logs in as the test user. The client is logged out and
// closed at cleanup.
func dial(t *testing.T, addr string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { logout(t, c) })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("login at %s: %v", addr, err)
	}
	return c
}

// logout logs c out and closes it, once.
func logout(t *testing.T, c *imapclient.Client) {
	t.Helper()
	select {
	case <-c.Closed():
		return
	default:
	}
	if c.State() != imap.ConnStateLogout {
		if err := c.Logout().Wait(); err != nil {
			t.Logf("logout: %v", err)
		}
	}
	_ = c.Close()
}

// keySection fetches the key header of a message.
var keySection = &imap.FetchItemBodySection{
	Specifier:    imap.PartSpecifierHeader,
	HeaderFields: []string{keyHeader},
	Peek:         true,
}

// message is what a server reports about one message.
type message struct {
	UID   imap.UID
	Key   string
	Flags []string // sorted, without \Recent
}

func (m message) String() string {
	return fmt.Sprintf("uid=%d key=%s flags=%s", m.UID, m.Key, strings.Join(m.Flags, " "))
}

// mailbox is what a server reports about one mailbox.
type mailbox struct {
	UIDValidity uint32
	UIDNext     imap.UID
	Messages    []message // by UID
}

// state is what a server reports about the whole account.
type state struct {
	Mailboxes  map[string]mailbox
	Subscribed []string // LIST (SUBSCRIBED) "" "*", sorted
}

// String renders s one line per fact, for comparison and diffs.
func (s *state) String() string {
	var b strings.Builder
	names := make([]string, 0, len(s.Mailboxes))
	for n := range s.Mailboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mb := s.Mailboxes[n]
		fmt.Fprintf(&b, "mailbox %q UIDVALIDITY %d UIDNEXT %d MESSAGES %d\n", n, mb.UIDValidity, mb.UIDNext, len(mb.Messages))
		for _, m := range mb.Messages {
			fmt.Fprintf(&b, "  %q %v\n", n, m)
		}
	}
	for _, n := range s.Subscribed {
		fmt.Fprintf(&b, "subscribed %q\n", n)
	}
	return b.String()
}

// normFlags sorts flags and drops \Recent (session state, not stored).
func normFlags(flags []imap.Flag) []string {
	out := []string{}
	for _, f := range flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, string(f))
		}
	}
	sort.Strings(out)
	return out
}

// fetchAll returns UID, key and flags of every message of the selected
// mailbox, by UID. A server may interleave unsolicited FETCH responses
// (flag changes by others) that the client merges into the result: they
// are folded into the message's entry, the later flags winning.
func fetchAll(c *imapclient.Client) ([]message, error) {
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}},
		&imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{keySection}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("UID FETCH 1:*: %w", err)
	}
	byUID := make(map[imap.UID]*message)
	var order []imap.UID
	for _, m := range msgs {
		if m.UID == 0 {
			continue // an unsolicited FETCH without UID
		}
		e := byUID[m.UID]
		if e == nil {
			e = &message{UID: m.UID}
			byUID[m.UID] = e
			order = append(order, m.UID)
		}
		if hdr := m.FindBodySection(keySection); hdr != nil {
			key, err := parseKey(hdr)
			if err != nil {
				return nil, fmt.Errorf("UID %d: %w", m.UID, err)
			}
			e.Key = key
		}
		if m.Flags != nil {
			e.Flags = normFlags(m.Flags)
		}
	}
	out := make([]message, 0, len(order))
	for _, uid := range order {
		if e := byUID[uid]; e.Key != "" {
			if e.Flags == nil {
				e.Flags = []string{}
			}
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// parseKey returns the key header's value from a header section.
func parseKey(hdr []byte) (string, error) {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return "", fmt.Errorf("parse %q: %w", hdr, err)
	}
	return h.Get(keyHeader), nil
}

// snapshot reads the account's state: every mailbox of LIST "" "*"
// EXAMINEd for UIDVALIDITY, UIDNEXT and UID FETCH 1:* (UID FLAGS), and the
// subscriptions.
func snapshot(t *testing.T, c *imapclient.Client) *state {
	t.Helper()
	s := &state{Mailboxes: make(map[string]mailbox)}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	for _, l := range list {
		if hasAttr(l.Attrs, imap.MailboxAttrNoSelect) || hasAttr(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %q: %v", l.Mailbox, err)
		}
		msgs, err := fetchAll(c)
		if err != nil {
			t.Fatalf("%q: %v", l.Mailbox, err)
		}
		s.Mailboxes[l.Mailbox] = mailbox{UIDValidity: sel.UIDValidity, UIDNext: sel.UIDNext, Messages: msgs}
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatalf("UNSELECT: %v", err)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST (SUBSCRIBED): %v", err)
	}
	for _, l := range subs {
		s.Subscribed = append(s.Subscribed, l.Mailbox)
	}
	sort.Strings(s.Subscribed)
	return s
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// diffLines returns the lines only in a ("-") and only in b ("+").
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := make(map[string]bool)
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			fmt.Fprintf(&out, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	return out.String()
}

// Mailbox names the scenario creates. Entwürfe is stored in modified UTF-7
// on disk (.Entw&APw-rfe) by both servers.
const (
	mbWork    = "Work"
	mbClients = "Work.Clients"
	mbArchive = "Archive"
	mbDrafts  = "Entwürfe"
	mbGone    = "Old-Projects" // subscribed, then deleted
)

// exercise runs the client side of the swap scenarios on a server: the
// INBOX holds 5 delivered messages without UIDs. It assigns UIDs (SELECT),
// stores flags and keywords, creates folders, appends, copies, moves,
// expunges, subscribes, and deletes a subscribed folder.
//
// It returns the UIDVALIDITY that STATUS reported for each new mailbox
// right after CREATE: it must never change afterwards.
func exercise(t *testing.T, c *imapclient.Client) map[string]uint32 {
	t.Helper()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	sel, err := c.Select("INBOX", nil).Wait()
	must("SELECT INBOX", err)
	if sel.NumMessages != 5 {
		t.Fatalf("SELECT INBOX: %d messages, want the 5 delivered", sel.NumMessages)
	}
	msgs, err := fetchAll(c)
	must("INBOX", err)
	uid := func(i int) imap.UIDSet { return imap.UIDSetNum(msgs[i].UID) }
	store := func(i int, flags ...imap.Flag) {
		t.Helper()
		must(fmt.Sprintf("UID STORE %d +FLAGS %v", msgs[i].UID, flags),
			c.Store(uid(i), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close())
	}
	store(0, imap.FlagSeen)
	store(1, imap.FlagFlagged, imap.FlagForwarded)
	store(2, imap.FlagAnswered, "Project-X", "$label1")
	store(3, imap.FlagDeleted, imap.FlagSeen)
	store(4, imap.FlagSeen, "$label1")

	created := make(map[string]uint32)
	for _, mb := range []string{mbWork, mbClients, mbArchive, mbDrafts} {
		must("CREATE "+mb, c.Create(mb, nil).Wait())
		st, err := c.Status(mb, &imap.StatusOptions{UIDValidity: true}).Wait()
		must("STATUS "+mb, err)
		created[mb] = st.UIDValidity
	}
	date := time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, a := range []struct {
		mailbox, key string
		flags        []imap.Flag
	}{
		{mbWork, "append-1", []imap.Flag{imap.FlagSeen, "$NonJunk"}},
		{mbWork, "append-2", nil},
		{mbClients, "append-3", []imap.Flag{"Project-X"}},
		{mbDrafts, "append-4", []imap.Flag{imap.FlagDraft}},
	} {
		body := crlf(testMessage(a.key))
		cmd := c.Append(a.mailbox, int64(len(body)), &imap.AppendOptions{Flags: a.flags, Time: date})
		_, err := cmd.Write([]byte(body))
		must("APPEND "+a.mailbox, err)
		must("APPEND "+a.mailbox, cmd.Close())
		_, err = cmd.Wait()
		must("APPEND "+a.mailbox, err)
	}
	_, err = c.Copy(imap.UIDSetNum(msgs[1].UID, msgs[2].UID), mbArchive).Wait()
	must("UID COPY to Archive", err)
	_, err = c.Move(uid(4), mbClients).Wait()
	must("UID MOVE to Work.Clients", err)
	_, err = c.Expunge().Collect()
	must("EXPUNGE", err)
	must("CREATE "+mbGone, c.Create(mbGone, nil).Wait())
	for _, mb := range []string{"INBOX", mbWork, mbClients, mbDrafts, mbGone} {
		must("SUBSCRIBE "+mb, c.Subscribe(mb).Wait())
	}
	// Dovecot keeps the subscription of a deleted folder.
	must("DELETE "+mbGone, c.Delete(mbGone).Wait())
	must("UNSELECT", c.Unselect().Wait())
	return created
}

// snapshotAt logs in at addr, takes a snapshot and logs out.
func snapshotAt(t *testing.T, addr string) *state {
	t.Helper()
	c := dial(t, addr, nil)
	defer logout(t, c)
	return snapshot(t, c)
}
