package imapd

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// encode runs write on an encoder over a buffer and returns what it wrote.
func encode(write func(e *encoder)) string {
	var buf bytes.Buffer
	e := &encoder{dst: &buf}
	e.lock()
	write(e)
	e.flushLocked()
	e.unlock()
	return buf.String()
}

func TestSortArgs_parse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		criteria []SortCriterion
		search   imap.SearchCriteria
		opts     imap.SearchOptions
		extended bool
	}{
		{name: "plain", in: " (DATE) UTF-8 ALL", criteria: []SortCriterion{{Key: "DATE"}}},
		{name: "several", in: ` (reverse arrival Subject REVERSE DISPLAYFROM displayto CC TO FROM SIZE) "US-ASCII" SEEN 1:5`,
			criteria: []SortCriterion{{Key: "ARRIVAL", Reverse: true}, {Key: "SUBJECT"}, {Key: "DISPLAYFROM", Reverse: true},
				{Key: "DISPLAYTO"}, {Key: "CC"}, {Key: "TO"}, {Key: "FROM"}, {Key: "SIZE"}},
			search: imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}, SeqNum: []imap.SeqSet{{{Start: 1, Stop: 5}}}}},
		{name: "return", in: " RETURN (MIN MAX COUNT) (SIZE) UTF-8 (UNSEEN)", criteria: []SortCriterion{{Key: "SIZE"}},
			search: imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}},
			opts:   imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}, extended: true},
		{name: "return empty", in: " RETURN () (DATE) UTF-8 ALL", criteria: []SortCriterion{{Key: "DATE"}},
			opts: imap.SearchOptions{ReturnAll: true}, extended: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParser(t, tt.in+"\r\nNEXT")
			a, err := p.sortArgs()
			if err != nil {
				t.Fatalf("sortArgs(%q): %v", tt.in, err)
			}
			if r := rest(t, p); r != "NEXT" {
				t.Errorf("left %q unread", r)
			}
			if !reflect.DeepEqual(a.criteria, tt.criteria) {
				t.Errorf("criteria = %+v, want %+v", a.criteria, tt.criteria)
			}
			if !criteriaEqual(a.search, &tt.search) {
				t.Errorf("search = %#v, want %#v", *a.search, tt.search)
			}
			if a.opts != tt.opts || a.extended != tt.extended {
				t.Errorf("opts, extended = %+v, %v, want %+v, %v", a.opts, a.extended, tt.opts, tt.extended)
			}
		})
	}
}

func TestSortArgs_bad(t *testing.T) {
	for _, in := range []string{
		"", " ", " DATE UTF-8 ALL", " () UTF-8 ALL", " (DATE)", " (DATE) UTF-8", " (DATE) UTF-8 ", " (DATE) ALL",
		" (REVERSE) UTF-8 ALL", " (REVERSE REVERSE DATE) UTF-8 ALL", " (FOO) UTF-8 ALL", " (DATE UTF-8 ALL",
		" RETURN (SAVE) (DATE) UTF-8 ALL", " RETURN (MIN)(DATE) UTF-8 ALL", " RETURNX (DATE) UTF-8 ALL",
		" (DATE) UTF-8 FOO", " (DATE)  UTF-8 ALL", " RETURN (DATE) UTF-8 ALL",
	} {
		p := testParser(t, in+"\r\n")
		if _, err := p.sortArgs(); !isSyntaxError(err) {
			t.Errorf("sortArgs(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestThreadArgs(t *testing.T) {
	algs := []imap.ThreadAlgorithm{imap.ThreadOrderedSubject, imap.ThreadReferences}
	p := testParser(t, " references UTF-8 SINCE 1-Jan-2024\r\nNEXT")
	alg, search, err := p.threadArgs(algs)
	if err != nil {
		t.Fatal(err)
	}
	if alg != imap.ThreadReferences || !search.Since.Equal(day(2024, 1, 1)) {
		t.Errorf("threadArgs = %v, %+v", alg, search)
	}
	if r := rest(t, p); r != "NEXT" {
		t.Errorf("left %q unread", r)
	}
	for _, in := range []string{"", " ", " REFS UTF-8 ALL", " REFERENCES", " REFERENCES UTF-8", " REFERENCES ALL", " (REFERENCES) UTF-8 ALL"} {
		p := testParser(t, in+"\r\n")
		if _, _, err := p.threadArgs(algs); !isSyntaxError(err) {
			t.Errorf("threadArgs(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestWriteESort(t *testing.T) {
	all := &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnAll: true, ReturnCount: true}
	tests := []struct {
		name string
		kind NumKind
		nums []uint32
		opts *imap.SearchOptions
		want string
	}{
		{name: "descending", nums: []uint32{5, 4, 3, 2, 1}, opts: all, want: `* ESEARCH (TAG "t") MIN 5 MAX 1 ALL 5,4,3,2,1 COUNT 5`},
		{name: "ascending runs", kind: NumKindUID, nums: []uint32{7, 8, 9, 2, 3, 10, 1}, opts: all, want: `* ESEARCH (TAG "t") UID MIN 7 MAX 1 ALL 7:9,2:3,10,1 COUNT 7`},
		{name: "empty", nums: nil, opts: all, want: `* ESEARCH (TAG "t") COUNT 0`},
		{name: "all only", nums: []uint32{1, 2, 3}, opts: &imap.SearchOptions{ReturnAll: true}, want: `* ESEARCH (TAG "t") ALL 1:3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encode(func(e *encoder) { writeESort(e, "t", tt.kind, tt.nums, tt.opts, 0) })
			if got != tt.want+"\r\n" {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteThreads(t *testing.T) {
	n := func(num uint32, kids ...*Thread) *Thread { return &Thread{Num: num, Children: kids} }
	tests := []struct {
		name    string
		threads []*Thread
		want    string
	}{
		{name: "none", want: "* THREAD"},
		{name: "singles", threads: []*Thread{n(1), n(2)}, want: "* THREAD (1)(2)"},
		{name: "chain", threads: []*Thread{n(1, n(2, n(3)))}, want: "* THREAD (1 2 3)"},
		{name: "branches", threads: []*Thread{n(1, n(2), n(3), n(4))}, want: "* THREAD (1 (2)(3)(4))"},
		// RFC 5256 section 4's example.
		{name: "rfc example", threads: []*Thread{
			n(2), n(3, n(6, n(4, n(23)), n(44, n(7, n(96))))),
		}, want: "* THREAD (2)(3 6 (4 23)(44 7 96))"},
		{name: "dummy root", threads: []*Thread{n(0, n(3), n(5))}, want: "* THREAD ((3)(5))"},
		{name: "dummy root one child", threads: []*Thread{n(0, n(3, n(4)))}, want: "* THREAD (3 4)"},
		{name: "dummy root empty", threads: []*Thread{n(0), n(1)}, want: "* THREAD (1)"},
		{name: "only empty dummies", threads: []*Thread{n(0), n(0, n(0))}, want: "* THREAD"},
		{name: "dummy inside", threads: []*Thread{n(1, n(0, n(2), n(3)))}, want: "* THREAD (1 (2)(3))"},
		{name: "dummy inside chain", threads: []*Thread{n(1, n(0, n(2, n(3))))}, want: "* THREAD (1 2 3)"},
		{name: "nil", threads: []*Thread{nil, n(1, nil, n(2))}, want: "* THREAD (1 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encode(func(e *encoder) { writeThreads(e, tt.threads) })
			if got != tt.want+"\r\n" {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteSearch(t *testing.T) {
	opts := &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnAll: true, ReturnCount: true}
	data := &imap.SearchData{All: imap.SeqSet{{Start: 1, Stop: 1}, {Start: 3, Stop: 4}}, Min: 1, Max: 4, Count: 3}
	got := encode(func(e *encoder) { writeESearch(e, `a"b`, NumKindSeq, data, opts) })
	if want := `* ESEARCH (TAG "a\"b") MIN 1 MAX 4 ALL 1,3:4 COUNT 3` + "\r\n"; got != want {
		t.Errorf("ESEARCH = %q, want %q", got, want)
	}
	got = encode(func(e *encoder) {
		writeESearch(e, "t", NumKindUID, &imap.SearchData{All: imap.UIDSet{}}, opts)
	})
	if want := `* ESEARCH (TAG "t") UID COUNT 0` + "\r\n"; got != want {
		t.Errorf("empty ESEARCH = %q, want %q", got, want)
	}
	got = encode(func(e *encoder) {
		if err := writeSearch(e, imap.UIDSet{{Start: 7, Stop: 9}}, 0); err != nil {
			t.Error(err)
		}
	})
	if want := "* SEARCH 7 8 9\r\n"; got != want {
		t.Errorf("SEARCH = %q, want %q", got, want)
	}
	if got := encode(func(e *encoder) {
		if err := writeSearch(e, imap.SeqSet{{Start: 1, Stop: 0}}, 0); err == nil {
			t.Error("a set with * was written")
		}
	}); got != "" {
		t.Errorf("wrote %q for a set with *", got)
	}
}
