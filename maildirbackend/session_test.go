package maildirbackend_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

func fetchAll(t *testing.T, c *imapclient.Client) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(seqSetAll(), &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
	}).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return msgs
}

func seqSetAll() imap.SeqSet {
	var s imap.SeqSet
	s.AddRange(1, 0)
	return s
}

func TestSession_selectFetchStore(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	k1 := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("one"))
	maildirtest.Deliver(t, s.Maildir, "From: x@y.z\nSubject: two\n\nline1\nline2\n")
	c := s.Dial(t, nil)
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.NumMessages != 2 || data.UIDNext != 3 || data.UIDValidity == 0 {
		t.Fatalf("select = %+v", data)
	}
	msgs, err := c.Fetch(seqSetAll(), &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 2 {
		t.Fatalf("fetch = %+v", msgs)
	}
	if msgs[1].Envelope.Subject != "two" {
		t.Errorf("subject = %q", msgs[1].Envelope.Subject)
	}
	body := string(msgs[1].FindBodySection(&imap.FetchItemBodySection{}))
	if body != "From: x@y.z\r\nSubject: two\r\n\r\nline1\r\nline2\r\n" {
		t.Errorf("body = %q", body)
	}
	if msgs[1].RFC822Size != int64(len(body)) {
		t.Errorf("size %d, body %d", msgs[1].RFC822Size, len(body))
	}
	// STORE renames into cur/ with the flags and a keyword letter.
	if _, err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Label1"}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	p := maildirtest.Find(t, s.Maildir, k1)
	if !strings.HasSuffix(p, ":2,Fa") || !strings.Contains(p, "/cur/") {
		t.Errorf("file after STORE = %s", p)
	}
	kw, _ := os.ReadFile(filepath.Join(s.Maildir, "dovecot-keywords"))
	if string(kw) != "0 $Label1\n" {
		t.Errorf("dovecot-keywords = %q", kw)
	}
	// UIDs persist in dovecot-uidlist.
	ul, _ := os.ReadFile(filepath.Join(s.Maildir, "dovecot-uidlist"))
	if !strings.HasPrefix(string(ul), "3 V") || !strings.Contains(string(ul), "1 W") || !strings.Contains(string(ul), ":"+k1) {
		t.Errorf("dovecot-uidlist = %q", ul)
	}
}

func TestSession_appendCopyMoveExpunge(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msg := "Subject: appended\r\n\r\nbody\r\n"
	date := time.Date(2024, 12, 31, 9, 59, 59, 0, time.UTC)
	cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
	cmd.Write([]byte(msg))
	cmd.Close()
	ad, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ad.UID != 1 {
		t.Fatalf("APPENDUID %+v", ad)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	m := fetchAll(t, c)
	if len(m) != 1 || !m[0].InternalDate.Equal(date) || m[0].RFC822Size != int64(len(msg)) {
		t.Fatalf("fetch after append: %+v", m)
	}
	cd, err := c.Copy(imap.UIDSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cd.DestUIDs.String() != "1" {
		t.Errorf("COPYUID %+v", cd)
	}
	if _, err := c.Copy(imap.UIDSetNum(1), "Nope").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Errorf("copy to missing mailbox: %v", err)
	}
	md, err := c.Move(imap.UIDSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.DestUIDs.String() != "2" {
		t.Errorf("MOVE COPYUID %+v", md)
	}
	st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true, UIDNext: true, Size: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 2 || st.UIDNext != 3 || *st.Size != 2*int64(len(msg)) {
		t.Errorf("status %+v", st)
	}
	if _, err := c.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	m = fetchAll(t, c)
	if len(m) != 1 || m[0].UID != 2 || !m[0].InternalDate.Equal(date) {
		t.Fatalf("after expunge: %+v", m)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Maildir, ".Archive", "cur"))
	if len(entries) != 1 {
		t.Errorf("Archive/cur holds %d files", len(entries))
	}
}

func TestSession_searchKeys(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, "From: a@x\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nZanzibar caf=E9\n")
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("foo bar"))
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    imap.SearchCriteria
		want string
	}{
		{"subject encoded word", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "grüße"}}}, "1"},
		{"subject plain", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "SUBJECT", Value: "FOO B"}}}, "2"},
		{"subject exists", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: ""}}}, "1:2"},
		{"body charset", imap.SearchCriteria{Body: []string{"CAFÉ"}}, "1"},
		{"text", imap.SearchCriteria{Text: []string{"bob@example"}}, "2"},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"zanzibar"}}}}, "2"},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, "1:2"},
		{"larger", imap.SearchCriteria{Larger: 1}, "1:2"},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"zanzibar"}}, {Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "foo"}}}}}}, "1:2"},
	}
	run := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := c.UIDSearch(&tt.c, nil).Wait()
				if err != nil {
					t.Fatal(err)
				}
				if got := res.All.String(); got != tt.want {
					t.Errorf("got %q want %q", got, tt.want)
				}
			})
		}
	}
	t.Run("files", run)
	// After a header listing, SUBJECT is answered from the cached
	// envelopes: the answers must not change.
	if _, err := c.Fetch(seqSetAll(), &imap.FetchOptions{Envelope: true}).Collect(); err != nil {
		t.Fatal(err)
	}
	t.Run("cached envelopes", run)
}

// rawSession sends commands over a plain connection and returns every line
// up to each tagged answer.
func rawSession(t *testing.T, addr string, cmds ...string) []string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	var lines []string
	readUntil := func(tag string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (lines so far %q)", err, lines)
			}
			lines = append(lines, strings.TrimRight(line, "\r\n"))
			if strings.HasPrefix(line, tag+" ") {
				return
			}
		}
	}
	readUntil("*")
	for i, cmd := range cmds {
		tag := fmt.Sprintf("t%d", i)
		fmt.Fprintf(conn, "%s %s\r\n", tag, cmd)
		readUntil(tag)
	}
	return lines
}

func TestSession_newKeywordFlagsBeforeFetch(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("kw"))
	lines := rawSession(t, s.Addr, "LOGIN alice secret", "SELECT INBOX", "STORE 1 +FLAGS (Project-X)")
	flagsAt, fetchAt := -1, -1
	for i, l := range lines {
		if strings.HasPrefix(l, "* FLAGS") && strings.Contains(l, "Project-X") {
			flagsAt = i
		}
		if strings.HasPrefix(l, "* 1 FETCH") && strings.Contains(l, "Project-X") && fetchAt < 0 {
			fetchAt = i
		}
	}
	if flagsAt < 0 || fetchAt < 0 || flagsAt > fetchAt {
		t.Fatalf("want * FLAGS with the keyword before the FETCH showing it:\n%s", strings.Join(lines, "\n"))
	}
}

func TestSession_badSequenceNumbers(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("only"))
	lines := rawSession(t, s.Addr, "LOGIN alice secret", "SELECT INBOX",
		"FETCH 2 FLAGS", "STORE 1:3 +FLAGS (\\Seen)", "FETCH 1:* FLAGS", "UID FETCH 99 FLAGS", "FETCH 5:* UID")
	// 5:* with one message is BAD, as Dovecot answers ("Invalid
	// messageset").
	for _, prefix := range []string{"t2 BAD", "t3 BAD", "t4 OK", "t5 OK", "t6 BAD"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, prefix)
		}
		if !found {
			t.Errorf("want %q:\n%s", prefix, strings.Join(lines, "\n"))
		}
	}
	// The connection survives and nothing was stored by the refused STORE.
	for _, l := range lines {
		if strings.Contains(l, `\Seen`) && strings.HasPrefix(l, "* 1 FETCH") {
			t.Errorf("refused STORE changed flags: %s", l)
		}
	}
}

func TestSession_headerSectionsFromTheHeaderAlone(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	big := "From: a@example.org\nSubject: big\nX-Folded: one\n two\n\n" + strings.Repeat("body line\n", 20000)
	maildirtest.Deliver(t, s.Maildir, big)
	maildirtest.Deliver(t, s.Maildir, "From: b@example.org\nSubject: no body, no blank line\n")
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	fields := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "X-Folded"}, Peek: true}
	text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	alone, err := c.Fetch(seqSetAll(), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{header, fields}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	// With TEXT too, the whole file is read: the header sections must not
	// differ.
	whole, err := c.Fetch(seqSetAll(), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{header, fields, text}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for i := range alone {
		for _, sec := range []*imap.FetchItemBodySection{header, fields} {
			a, w := string(alone[i].FindBodySection(sec)), string(whole[i].FindBodySection(sec))
			if a != w || a == "" {
				t.Errorf("message %d %v: header alone %q, whole file %q", i+1, sec.HeaderFields, a, w)
			}
		}
	}
	if got := string(alone[0].FindBodySection(fields)); got != "Subject: big\r\nX-Folded: one\r\n two\r\n\r\n" {
		t.Errorf("HEADER.FIELDS = %q", got)
	}
}

func TestSession_onlyRegularFilesAreMessages(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("Subject: not yours\n\nsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.Maildir, "cur", "1.M1P1.link:2,S")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.Maildir, "cur", "2.M2P2.dir:2,"), 0o700); err != nil {
		t.Fatal(err)
	}
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("real"))
	c := s.Dial(t, nil)
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.NumMessages != 1 {
		t.Fatalf("%d messages: a symbolic link or a directory was taken for a message", data.NumMessages)
	}
	msgs := fetchAll(t, c)
	if len(msgs) != 1 || msgs[0].Envelope.Subject != "real" {
		t.Fatalf("fetch: %+v", msgs)
	}
}

// TestSession_searchAddressKeys checks that FROM, TO, CC and BCC match the
// addresses as the ENVELOPE holds them, as Dovecot does
// (lib-storage/index/index-search.c, SEARCH_HEADER_ADDRESS: the field is
// parsed with message_address_parse and written back before matching):
// comments removed, groups kept, encoded display names decoded.
func TestSession_searchAddressKeys(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, "From: <user-from (comment)@ (comment) domain.org>\n"+
		"To: friends: a@b.example, \"Quoted Name\" <q@d.example>;, (only a comment) c@e.example\n"+
		"Cc: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <jm@x.example>\nSubject: addresses\n\nbody\n")
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("other"))
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	hdr := func(key, value string) imap.SearchCriteria {
		return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: key, Value: value}}}
	}
	tests := []struct {
		name string
		c    imap.SearchCriteria
		want string
	}{
		{"comments inside addr-spec", hdr("From", "user-from@domain.org"), "1"},
		{"comment is not the address", hdr("From", "comment"), ""},
		{"group member", hdr("To", "a@b.example"), "1"},
		{"group name", hdr("To", "friends:"), "1"},
		{"quoted display name unquoted", hdr("To", "Quoted Name <q@d.example>"), "1"},
		{"comment after addr-spec as name", hdr("To", "c@e.example"), "1"},
		{"encoded display name decoded", hdr("Cc", "jörg müller <jm@x"), "1"},
		{"raw encoded word is not matched", hdr("Cc", "=?UTF-8?Q?"), ""},
		{"empty value: field exists", hdr("Cc", ""), "1"},
		{"bcc absent", hdr("Bcc", "x"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.UIDSearch(&tt.c, &imap.SearchOptions{}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if got := res.All.String(); got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
		})
	}
}
