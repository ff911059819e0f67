package imapd

import (
	"bufio"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// testParser returns a parser over input whose connection's transport is
// one end of a net.Pipe; the other end is read and thrown away, so that
// continuation requests for literals can be written.
func testParser(t testing.TB, input string) *parser {
	t.Helper()
	a, b := net.Pipe()
	go io.Copy(io.Discard, b)
	t.Cleanup(func() { a.Close(); b.Close() })
	c := &Conn{nc: a, raw: a}
	c.enc.dst = deadlineWriter{nc: a}
	return &parser{c: c, br: bufio.NewReader(strings.NewReader(input))}
}

// rest is what the parser left unread.
func rest(t testing.TB, p *parser) string {
	t.Helper()
	b, err := io.ReadAll(p.br)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// isSyntaxError reports whether err is a tagged BAD.
func isSyntaxError(err error) bool {
	var se *syntaxError
	return errors.As(err, &se)
}

func TestFetchArgs_parse(t *testing.T) {
	one := imap.SeqSetNum(1)
	header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader}
	tests := []struct {
		name     string
		in       string
		kind     NumKind
		set      imap.NumSet
		opts     imap.FetchOptions
		obsolete map[int]string // index in BodySection → name
		body     bool
		bs       bool
	}{
		{name: "flags", in: " 1 FLAGS", set: one, opts: imap.FetchOptions{Flags: true}},
		{name: "all macro", in: " 1:* ALL", set: imap.SeqSet{{Start: 1, Stop: 0}}, opts: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true, Envelope: true}},
		{name: "fast macro", in: " 2,4 fast", set: imap.SeqSetNum(2, 4), opts: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true}},
		{name: "full macro", in: " 1 FULL", set: one, body: true,
			opts: imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{}}},
		{name: "uid fetch adds UID", in: " 1:5 (FLAGS)", kind: NumKindUID, set: imap.UIDSet{{Start: 1, Stop: 5}}, opts: imap.FetchOptions{Flags: true, UID: true}},
		{name: "searchres", in: " $ UID", set: imap.SearchRes(), opts: imap.FetchOptions{UID: true}},
		{name: "list", in: " 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)", set: one,
			opts: imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true}},
		{name: "body", in: " 1 BODY", set: one, body: true, opts: imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}},
		{name: "bodystructure", in: " 1 BODYSTRUCTURE", set: one, bs: true, opts: imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}},
		{name: "body and bodystructure", in: " 1 (BODY BODYSTRUCTURE)", set: one, body: true, bs: true,
			opts: imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}},
		{name: "bodystructure and body", in: " 1 (BODYSTRUCTURE BODY)", set: one, body: true, bs: true,
			opts: imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}},
		{name: "body[]", in: " 1 BODY[]", set: one, opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}},
		{name: "body.peek[header]", in: " 1 body.peek[header]", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}},
		{name: "text partial", in: " 1 BODY[TEXT]<10.200>", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText, Partial: &imap.SectionPartial{Offset: 10, Size: 200}}}}},
		{name: "partial zero", in: " 1 BODY[]<0.0>", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Partial: &imap.SectionPartial{}}}}},
		{name: "header fields", in: " 1 (BODY.PEEK[HEADER.FIELDS (From To \"X-Y\" {3}\r\nCc])])", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true, HeaderFields: []string{"From", "To", "X-Y", "Cc]"}}}}},
		{name: "header fields not", in: " 1 BODY[header.fields.not (Received)]", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"Received"}}}}},
		{name: "parts", in: " 1 (BODY[1] BODY[1.2.3] BODY[2.MIME] BODY[3.1.TEXT] BODY[4.HEADER] BODY[5.HEADER.FIELDS (A)])", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{
				{Part: []int{1}}, {Part: []int{1, 2, 3}}, {Part: []int{2}, Specifier: imap.PartSpecifierMIME},
				{Part: []int{3, 1}, Specifier: imap.PartSpecifierText}, {Part: []int{4}, Specifier: imap.PartSpecifierHeader},
				{Part: []int{5}, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"A"}},
			}}},
		{name: "rfc822 family", in: " 1 (RFC822 RFC822.PEEK RFC822.HEADER RFC822.TEXT)", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{
				{}, {Peek: true}, {Specifier: imap.PartSpecifierHeader, Peek: true}, {Specifier: imap.PartSpecifierText},
			}},
			obsolete: map[int]string{0: "RFC822", 1: "RFC822.PEEK", 2: "RFC822.HEADER", 3: "RFC822.TEXT"}},
		{name: "binary", in: " 1 (BINARY[] BINARY.PEEK[1.2]<5.10> BINARY.SIZE[3] BINARY.SIZE[])", set: one,
			opts: imap.FetchOptions{
				BinarySection: []*imap.FetchItemBinarySection{
					{}, {Part: []int{1, 2}, Peek: true, Partial: &imap.SectionPartial{Offset: 5, Size: 10}},
				},
				BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{3}}, {}},
			}},
		{name: "same section twice", in: " 1 (BODY[HEADER] BODY[HEADER])", set: one,
			opts: imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{header, header}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParser(t, tt.in+"\r\nNEXT")
			a, err := p.fetchArgs(tt.kind)
			if err != nil {
				t.Fatalf("fetchArgs(%q): %v", tt.in, err)
			}
			if r := rest(t, p); r != "NEXT" {
				t.Errorf("left %q unread", r)
			}
			if !reflect.DeepEqual(a.set, tt.set) && !(imap.IsSearchRes(tt.set) && imap.IsSearchRes(a.set)) {
				t.Errorf("set = %v, want %v", a.set, tt.set)
			}
			if !reflect.DeepEqual(a.opts, tt.opts) {
				t.Errorf("options =\n%#v\nwant\n%#v", a.opts, tt.opts)
			}
			obs := map[int]string{}
			for i, s := range a.opts.BodySection {
				if name, ok := a.obsolete[s]; ok {
					obs[i] = name
				}
			}
			if len(obs) != len(a.obsolete) || (len(obs) > 0 || len(tt.obsolete) > 0) && !reflect.DeepEqual(obs, tt.obsolete) {
				t.Errorf("obsolete = %v, want %v", obs, tt.obsolete)
			}
			if a.body != tt.body || a.bodyStructure != tt.bs {
				t.Errorf("body, bodyStructure = %v, %v, want %v, %v", a.body, a.bodyStructure, tt.body, tt.bs)
			}
		})
	}
}

func TestFetchArgs_bad(t *testing.T) {
	for _, in := range []string{
		"", " ", " 1", " 1 ", " 0 FLAGS", " 1:0 FLAGS", " a FLAGS", " 1,,2 FLAGS", " 1: FLAGS", " 01 FLAGS",
		" 1  FLAGS", " 1 FOO", " 1 (FLAGS", " 1 (FLAGS))", " 1 (FLAGS ALL)", " 1 (FAST)", " 1 ()x", " 1 ()",
		" 1 FLAGS UID", " 1 BODY[", " 1 BODY[HEADER", " 1 BODY[MIME]", " 1 BODY[0]", " 1 BODY[1.0]",
		" 1 BODY[1.]", " 1 BODY[FOO]", " 1 BODY[HEADER.FIELDS]", " 1 BODY[HEADER.FIELDS ()]",
		" 1 BODY[HEADER.FIELDS (A]", " 1 BODY.PEEK", " 1 BODY.PEEK FLAGS", " 1 BODY[]<", " 1 BODY[]<1>",
		" 1 BODY[]<1.>", " 1 BODY[]<.1>", " 1 BODY[]<1.2", " 1 BINARY", " 1 BINARY[TEXT]", " 1 BINARY[1.MIME]",
		" 1 BINARY.SIZE", " 1 BINARY[1", " 1 RFC822[]", " 1 BODY[]x", " 1 FLAGS\x00", " 4294967296 FLAGS",
		" 1 BODY[99999999999]", " 1 BODY[]<99999999999999999999.1>", " 1 (BODY[] (FLAGS))",
	} {
		p := testParser(t, in+"\r\n")
		if _, err := p.fetchArgs(NumKindSeq); !isSyntaxError(err) {
			t.Errorf("fetchArgs(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestStoreArgs_parse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		kind  NumKind
		set   imap.NumSet
		flags imap.StoreFlags
	}{
		{name: "set list", in: ` 1 FLAGS (\Seen \flagged $Label)`, set: imap.SeqSetNum(1),
			flags: imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged, "$Label"}}},
		{name: "clear", in: ` 1:* FLAGS ()`, set: imap.SeqSet{{Start: 1, Stop: 0}},
			flags: imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{}}},
		{name: "add silent", in: ` 2 +FLAGS.SILENT (\Deleted)`, set: imap.SeqSetNum(2),
			flags: imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}},
		{name: "del bare flags", in: ` 3 -flags \Answered \DRAFT foo`, set: imap.SeqSetNum(3),
			flags: imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagAnswered, imap.FlagDraft, "foo"}}},
		{name: "uid", in: ` 10:12 flags.silent \Seen`, kind: NumKindUID, set: imap.UIDSet{{Start: 10, Stop: 12}},
			flags: imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParser(t, tt.in+"\r\nNEXT")
			set, flags, _, err := p.storeArgs(tt.kind)
			if err != nil {
				t.Fatalf("storeArgs(%q): %v", tt.in, err)
			}
			if r := rest(t, p); r != "NEXT" {
				t.Errorf("left %q unread", r)
			}
			if !reflect.DeepEqual(set, tt.set) {
				t.Errorf("set = %#v, want %#v", set, tt.set)
			}
			if !reflect.DeepEqual(*flags, tt.flags) {
				t.Errorf("flags = %#v, want %#v", *flags, tt.flags)
			}
		})
	}
}

func TestStoreArgs_bad(t *testing.T) {
	for _, in := range []string{
		"", " 1", " 1 FLAGS", " 1 FLAGS ", " 0 FLAGS (\\Seen)", " 1 LABELS (a)", " 1 *FLAGS (a)", " 1 FLAGS.LOUD (a)",
		" 1 +-FLAGS (a)", " 1 FLAGS (\\Seen", " 1 FLAGS \\", " 1 FLAGS a ", " 1 FLAGS (a) b",
		" 1 FLAGS.SILENT.SILENT (a)", " 1 FLAGS ( a)", " 1 FLAGS (UNCHANGEDSINCE 5) (a)", " x FLAGS (a)",
	} {
		p := testParser(t, in+"\r\n")
		if _, _, _, err := p.storeArgs(NumKindSeq); !isSyntaxError(err) {
			t.Errorf("storeArgs(%q) = %v, want a syntax error", in, err)
		}
	}
}
