package imapd

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSearchArgs_parse(t *testing.T) {
	all := imap.SearchOptions{ReturnAll: true}
	hdr := func(k, v string) []imap.SearchCriteriaHeaderField {
		return []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}
	}
	tests := []struct {
		name     string
		in       string
		want     imap.SearchCriteria
		opts     imap.SearchOptions
		extended bool
		saveOnly bool
	}{
		{name: "all", in: " ALL", opts: all},
		{name: "flags", in: " answered DELETED Draft FLAGGED SEEN RECENT",
			want: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, imap.FlagFlagged, imap.FlagSeen, `\Recent`}}, opts: all},
		{name: "unflags", in: " UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
			want: imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, imap.FlagFlagged, imap.FlagSeen}}, opts: all},
		{name: "new", in: " NEW", want: imap.SearchCriteria{Flag: []imap.Flag{`\Recent`}, NotFlag: []imap.Flag{imap.FlagSeen}}, opts: all},
		{name: "old", in: " OLD", want: imap.SearchCriteria{NotFlag: []imap.Flag{`\Recent`}}, opts: all},
		{name: "keywords", in: ` KEYWORD $Label1 UNKEYWORD Junk KEYWORD \seen`,
			want: imap.SearchCriteria{Flag: []imap.Flag{"$Label1", imap.FlagSeen}, NotFlag: []imap.Flag{"Junk"}}, opts: all},
		{name: "address keys", in: ` FROM alice TO "bob smith" CC {3}` + "\r\n" + `x y BCC z SUBJECT "hi \"there\""`,
			want: imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{
				{Key: "From", Value: "alice"}, {Key: "To", Value: "bob smith"}, {Key: "Cc", Value: "x y"},
				{Key: "Bcc", Value: "z"}, {Key: "Subject", Value: `hi "there"`},
			}}, opts: all},
		{name: "header", in: ` HEADER List-Id "<x.y>"`, want: imap.SearchCriteria{Header: hdr("List-Id", "<x.y>")}, opts: all},
		{name: "header empty value", in: ` HEADER X-Spam ""`, want: imap.SearchCriteria{Header: hdr("X-Spam", "")}, opts: all},
		{name: "body text", in: ` BODY foo TEXT "bar baz"`, want: imap.SearchCriteria{Body: []string{"foo"}, Text: []string{"bar baz"}}, opts: all},
		{name: "smaller then a date", in: ` SMALLER 400 SENTSINCE 1-Jan-2023 LARGER 10 SINCE 1-Feb-2024`,
			want: imap.SearchCriteria{Smaller: 400, Larger: 10, SentSince: day(2023, 1, 1), Since: day(2024, 2, 1)}, opts: all},
		{name: "two smallers", in: ` SMALLER 400 SMALLER 300 SMALLER 500`, want: imap.SearchCriteria{Smaller: 300}, opts: all},
		{name: "since before", in: ` SINCE 1-Feb-2024 BEFORE "15-mar-2024"`, want: imap.SearchCriteria{Since: day(2024, 2, 1), Before: day(2024, 3, 15)}, opts: all},
		{name: "on", in: ` ON 29-Feb-2024`, want: imap.SearchCriteria{Since: day(2024, 2, 29), Before: day(2024, 3, 1)}, opts: all},
		{name: "sent", in: ` SENTSINCE 01-Jan-2020 SENTBEFORE 1-Jan-2021`, want: imap.SearchCriteria{SentSince: day(2020, 1, 1), SentBefore: day(2021, 1, 1)}, opts: all},
		{name: "senton", in: ` SENTON 31-Dec-2023`, want: imap.SearchCriteria{SentSince: day(2023, 12, 31), SentBefore: day(2024, 1, 1)}, opts: all},
		{name: "dates intersect", in: ` SINCE 1-Jan-2020 SINCE 1-Jan-2021 BEFORE 1-Jan-2023 BEFORE 1-Jan-2022`,
			want: imap.SearchCriteria{Since: day(2021, 1, 1), Before: day(2022, 1, 1)}, opts: all},
		{name: "sizes", in: ` LARGER 100 SMALLER 5000000000`, want: imap.SearchCriteria{Larger: 100, Smaller: 5000000000}, opts: all},
		{name: "seq sets", in: ` 1:3,5 *`, want: imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 1, Stop: 3}, {Start: 5, Stop: 5}}, {{Start: 0, Stop: 0}}}}, opts: all},
		{name: "uid", in: ` UID 10:*`, want: imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 10, Stop: 0}}}}, opts: all},
		{name: "not", in: ` NOT SEEN`, want: imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}, opts: all},
		{name: "or", in: ` OR SEEN (FROM a DELETED)`, want: imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{
			{Flag: []imap.Flag{imap.FlagSeen}},
			{Header: hdr("From", "a"), Flag: []imap.Flag{imap.FlagDeleted}},
		}}}, opts: all},
		{name: "nested", in: ` NOT OR 1 NOT (2 UID 3)`, want: imap.SearchCriteria{Not: []imap.SearchCriteria{{Or: [][2]imap.SearchCriteria{{
			{SeqNum: []imap.SeqSet{imap.SeqSetNum(1)}},
			{Not: []imap.SearchCriteria{{SeqNum: []imap.SeqSet{imap.SeqSetNum(2)}, UID: []imap.UIDSet{imap.UIDSetNum(3)}}}},
		}}}}}, opts: all},
		{name: "parens and", in: ` (SEEN (FLAGGED)) ALL`, want: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen, imap.FlagFlagged}}, opts: all},
		{name: "charset", in: ` CHARSET utf-8 SUBJECT "é"`, want: imap.SearchCriteria{Header: hdr("Subject", "é")}, opts: all},
		{name: "charset ascii seq", in: ` CHARSET "US-ASCII" 2`, want: imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(2)}}, opts: all},
		{name: "return empty", in: ` RETURN () ALL`, opts: all, extended: true},
		{name: "return opts", in: ` RETURN (MIN max Count) UNSEEN`, want: imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}},
			opts: imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}, extended: true},
		{name: "return save", in: ` RETURN (SAVE) SEEN`, want: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}},
			opts: imap.SearchOptions{ReturnSave: true, ReturnAll: true}, extended: true, saveOnly: true},
		{name: "return save min", in: ` RETURN (SAVE MIN) CHARSET UTF-8 (SEEN)`, want: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}},
			opts: imap.SearchOptions{ReturnSave: true, ReturnMin: true}, extended: true},
		{name: "return seq first", in: ` RETURN (ALL) 1:2`, want: imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 1, Stop: 2}}}}, opts: all, extended: true},
		{name: "searchres", in: ` $`, want: imap.SearchCriteria{UID: []imap.UIDSet{imap.SearchRes()}}, opts: all},
		{name: "uid searchres", in: ` UID $ SEEN`, want: imap.SearchCriteria{UID: []imap.UIDSet{imap.SearchRes()}, Flag: []imap.Flag{imap.FlagSeen}}, opts: all},
		{name: "paren first", in: ` (OR SEEN DRAFT)`, want: imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagSeen}}, {Flag: []imap.Flag{imap.FlagDraft}}}}}, opts: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParser(t, tt.in+"\r\nNEXT")
			a, err := p.searchArgs()
			if err != nil {
				t.Fatalf("searchArgs(%q): %v", tt.in, err)
			}
			if r := rest(t, p); r != "NEXT" {
				t.Errorf("left %q unread", r)
			}
			if !criteriaEqual(a.criteria, &tt.want) {
				t.Errorf("criteria =\n%#v\nwant\n%#v", *a.criteria, tt.want)
			}
			if a.opts != tt.opts || a.extended != tt.extended || a.saveOnly != tt.saveOnly {
				t.Errorf("options, extended, saveOnly = %+v, %v, %v, want %+v, %v, %v", a.opts, a.extended, a.saveOnly, tt.opts, tt.extended, tt.saveOnly)
			}
		})
	}
}

// criteriaEqual compares criteria, "$" (SEARCHRES) matching only itself.
func criteriaEqual(a, b *imap.SearchCriteria) bool {
	x, y := *a, *b
	if len(x.UID) != len(y.UID) {
		return false
	}
	x.UID, y.UID = nil, nil
	for i := range a.UID {
		if imap.IsSearchRes(a.UID[i]) != imap.IsSearchRes(b.UID[i]) || !reflect.DeepEqual(a.UID[i], b.UID[i]) {
			return false
		}
	}
	if len(x.Not) != len(y.Not) || len(x.Or) != len(y.Or) {
		return false
	}
	x.Not, y.Not, x.Or, y.Or = nil, nil, nil, nil
	for i := range a.Not {
		if !criteriaEqual(&a.Not[i], &b.Not[i]) {
			return false
		}
	}
	for i := range a.Or {
		if !criteriaEqual(&a.Or[i][0], &b.Or[i][0]) || !criteriaEqual(&a.Or[i][1], &b.Or[i][1]) {
			return false
		}
	}
	return reflect.DeepEqual(x, y)
}

func TestSearchArgs_bad(t *testing.T) {
	for _, in := range []string{
		"", " ", " FOO", " ALL ", " ALL  SEEN", " ()", " (SEEN", " SEEN)", " NOT", " NOT ", " OR SEEN", " OR SEEN ",
		" FROM", " FROM ", " HEADER X", " KEYWORD", " KEYWORD (a)", " SINCE", " SINCE 32-Jan-2024", " SINCE 1-Foo-2024",
		" SINCE 2024-01-01", " LARGER", " LARGER x", " LARGER -1", " SMALLER 99999999999999999999", " UID", " UID x",
		" UID 0", " 0", " 1:0", " 1,,3", " 1:", " $1", " 1$", " 1:3x", " RETURN", " RETURN ALL", " RETURN (FOO) ALL",
		" RETURN (MIN", " RETURN (MIN) ", " RETURN (MIN)", " CHARSET", " CHARSET UTF-8", " CHARSET UTF-8 ",
		" CHARSET (x) ALL", " ALL RETURN (MIN)", " SEEN CHARSET UTF-8 ALL", " \"ALL\"", " SEEN\x00", " FROM \"a",
		" ON 1-Jan-2024x", " NOT NOT", " (SEEN) (", " 4294967296", " UID 4294967296",
	} {
		p := testParser(t, in+"\r\n")
		if _, err := p.searchArgs(); !isSyntaxError(err) {
			t.Errorf("searchArgs(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestSearchArgs_badCharset(t *testing.T) {
	p := testParser(t, " CHARSET KOI8-R SUBJECT {2}\r\nab\r\nNEXT")
	_, err := p.searchArgs()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != "BADCHARSET (US-ASCII UTF-8)" {
		t.Fatalf("searchArgs with CHARSET KOI8-R = %v, want NO [BADCHARSET (US-ASCII UTF-8)]", err)
	}
	if r := rest(t, p); r != "NEXT" {
		t.Errorf("left %q unread: the whole command must be read", r)
	}
}

func TestSearchArgs_nesting(t *testing.T) {
	for _, in := range []string{
		" " + strings.Repeat("NOT ", 5000) + "SEEN",
		" " + strings.Repeat("(", 5000) + "SEEN" + strings.Repeat(")", 5000),
		" " + strings.Repeat("OR SEEN ", 5000) + "SEEN",
	} {
		p := testParser(t, in+"\r\n")
		_, err := p.searchArgs()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeLimit {
			t.Errorf("searchArgs(%.20q...) = %v, want NO [LIMIT]", in, err)
		}
	}
	p := testParser(t, " "+strings.Repeat("NOT ", 900)+"SEEN\r\n")
	if _, err := p.searchArgs(); err != nil {
		t.Errorf("900 NOTs: %v", err)
	}
}
