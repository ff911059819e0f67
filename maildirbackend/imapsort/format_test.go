package imapsort_test

import (
	"strconv"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

// parseThreads parses a THREAD answer without "THREAD " (thread-list of RFC
// 5256 section 5) into Threads, a thread-nested root becoming a dummy.
func parseThreads(t *testing.T, s string) []*imapsort.Thread {
	t.Helper()
	p := &threadParser{t: t, s: s}
	var out []*imapsort.Thread
	for p.i < len(p.s) {
		out = append(out, p.list())
	}
	return out
}

type threadParser struct {
	t *testing.T
	s string
	i int
}

// list parses "(" (thread-members / thread-nested) ")".
func (p *threadParser) list() *imapsort.Thread {
	p.expect('(')
	var n *imapsort.Thread
	if p.peek() == '(' {
		n = &imapsort.Thread{Children: p.nested()}
	} else {
		n = p.members()
	}
	p.expect(')')
	return n
}

// members parses nz-number *(SP nz-number) [SP thread-nested].
func (p *threadParser) members() *imapsort.Thread {
	n := &imapsort.Thread{ID: p.number()}
	if p.peek() != ' ' {
		return n
	}
	p.i++
	if p.peek() == '(' {
		n.Children = p.nested()
	} else {
		n.Children = []*imapsort.Thread{p.members()}
	}
	return n
}

// nested parses 2*thread-list.
func (p *threadParser) nested() []*imapsort.Thread {
	var kids []*imapsort.Thread
	for p.peek() == '(' {
		kids = append(kids, p.list())
	}
	if len(kids) < 2 {
		p.t.Fatalf("thread-nested with %d lists at %d of %q", len(kids), p.i, p.s)
	}
	return kids
}

func (p *threadParser) number() uint32 {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.ParseUint(p.s[start:p.i], 10, 32)
	if err != nil || n == 0 {
		p.t.Fatalf("bad number at %d of %q", start, p.s)
	}
	return uint32(n)
}

func (p *threadParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *threadParser) expect(c byte) {
	if p.peek() != c {
		p.t.Fatalf("want %q at %d of %q", c, p.i, p.s)
	}
	p.i++
}

func TestFormat_rfcExamples(t *testing.T) {
	// RFC 5256 sections 3 (BASE.6.4.THREAD) and 4 (BASE.7.2.THREAD), the
	// editorial line breaks removed.
	tests := []struct{ name, thread string }{
		{"THREAD response", "(2)(3 6 (4 23)(44 7 96))"},
		{"missing parent", "((3)(5))"},
		{"A283 ORDEREDSUBJECT", "(166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)"},
		{"A285 REFERENCES", "(166)(167)(168)(169)(172)((170)(179))(171)(173)((174)(175)(176)(178)(181)(180))((177)(183)(182)(188 (184)(189))(185 186)(187))(190)(191)(192)(193)((194)(195 196))(197 198)(199)(200 202)(201)(203)(204)(205 206 207)(208)"},
		{"none", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imapsort.Format(parseThreads(t, tt.thread)); got != tt.thread {
				t.Errorf("Format = %q; want %q", got, tt.thread)
			}
		})
	}
}

func TestFormat_dummies(t *testing.T) {
	leaf := func(id uint32) *imapsort.Thread { return &imapsort.Thread{ID: id} }
	node := func(id uint32, kids ...*imapsort.Thread) *imapsort.Thread {
		return &imapsort.Thread{ID: id, Children: kids}
	}
	tests := []struct {
		name    string
		threads []*imapsort.Thread
		want    string
	}{
		{"nil", nil, ""},
		{"one message", []*imapsort.Thread{leaf(1)}, "(1)"},
		{"chain", []*imapsort.Thread{node(1, node(2, leaf(3)))}, "(1 2 3)"},
		{"branches", []*imapsort.Thread{node(1, leaf(2), node(3, leaf(4)))}, "(1 (2)(3 4))"},
		{"root dummy", []*imapsort.Thread{node(0, leaf(3), leaf(5))}, "((3)(5))"},
		{"root dummy with one child", []*imapsort.Thread{node(0, node(3, leaf(4)))}, "(3 4)"},
		{"empty dummy", []*imapsort.Thread{leaf(0), leaf(1)}, "(1)"},
		{"nil thread", []*imapsort.Thread{nil, leaf(1), node(2, nil)}, "(1)(2)"},
		{"inner dummy spliced", []*imapsort.Thread{node(1, node(0, leaf(2), leaf(3)))}, "(1 (2)(3))"},
		{"inner dummy with one child", []*imapsort.Thread{node(1, node(0, leaf(2)))}, "(1 2)"},
		{"dummy of dummies", []*imapsort.Thread{node(0, node(0, leaf(2)), node(0, leaf(3)))}, "((2)(3))"},
		{"large ids", []*imapsort.Thread{node(4294967295, leaf(1))}, "(4294967295 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imapsort.Format(tt.threads); got != tt.want {
				t.Errorf("Format = %q; want %q", got, tt.want)
			}
		})
	}
}
