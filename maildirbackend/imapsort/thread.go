package imapsort

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Thread is one node of a THREAD answer: a message and its replies, or,
// with ID 0, a dummy node that stands for a parent missing from the
// searched messages and groups its children.
type Thread struct {
	ID       uint32    // 0 for a dummy node
	Children []*Thread // ordered; may be nil
}

// OrderedSubject threads msgs with the ORDEREDSUBJECT algorithm of RFC 5256
// ("poor man's threading"): messages with the same base subject form one
// thread, whose first message by sent date is the root and whose other
// messages are its children, in sent date order. Threads are ordered by the
// sent date of their root. Equal dates order by ID. It returns no dummy
// nodes. OrderedSubject does not modify msgs.
func OrderedSubject(msgs []Message) []*Thread {
	type entry struct {
		id   uint32
		date int64
		subj string
	}
	entries := make([]entry, len(msgs))
	for i := range msgs {
		key, _ := subjectKey(msgs[i].Subject)
		entries[i] = entry{msgs[i].ID, sentDate(&msgs[i]), key}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.subj, b.subj), cmp.Compare(a.date, b.date), cmp.Compare(a.id, b.id))
	})
	type root struct {
		t    *Thread
		date int64
	}
	var roots []root
	for i := 0; i < len(entries); {
		r := root{&Thread{ID: entries[i].id}, entries[i].date}
		j := i + 1
		for ; j < len(entries) && entries[j].subj == entries[i].subj; j++ {
			r.t.Children = append(r.t.Children, &Thread{ID: entries[j].id})
		}
		roots = append(roots, r)
		i = j
	}
	slices.SortStableFunc(roots, func(a, b root) int {
		return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(a.t.ID, b.t.ID))
	})
	threads := make([]*Thread, len(roots))
	for i, r := range roots {
		threads[i] = r.t
	}
	return threads
}

// Format writes threads in the syntax of the THREAD response (RFC 5256
// section 5, thread-list), without the leading "THREAD ": one parenthesized
// list per thread, "(1 2)(3 (4)(5))". A message with one child is followed
// by that child, and one with several children by one parenthesized list
// per child. Dummy nodes are not written: their children take their place,
// and a thread whose root is a dummy with several children is a list of
// their lists, "((3)(5))". Nil nodes and dummy nodes without messages
// below them are left out. Format of no threads is "".
func Format(threads []*Thread) string {
	var b strings.Builder
	for _, t := range threads {
		kids := expand(t)
		switch len(kids) {
		case 0:
		case 1:
			b.WriteByte('(')
			writeMembers(&b, kids[0])
			b.WriteByte(')')
		default:
			b.WriteByte('(')
			writeNested(&b, kids)
			b.WriteByte(')')
		}
	}
	return b.String()
}

// writeMembers writes t, a message node, and its descendants as
// thread-members: "1 2 (3)(4)".
func writeMembers(b *strings.Builder, t *Thread) {
	for {
		b.WriteString(strconv.FormatUint(uint64(t.ID), 10))
		kids := children(t)
		switch len(kids) {
		case 0:
			return
		case 1:
			b.WriteByte(' ')
			t = kids[0]
		default:
			b.WriteByte(' ')
			writeNested(b, kids)
			return
		}
	}
}

// writeNested writes one thread-list per node of kids: "(3)(4 5)".
func writeNested(b *strings.Builder, kids []*Thread) {
	for _, k := range kids {
		b.WriteByte('(')
		writeMembers(b, k)
		b.WriteByte(')')
	}
}

// children returns the children of t with dummy nodes replaced by their own
// children, recursively, and nil nodes dropped.
func children(t *Thread) []*Thread {
	var out []*Thread
	for _, c := range t.Children {
		out = append(out, expand(c)...)
	}
	return out
}

// expand returns t as a list of message nodes: t itself, or for a dummy
// its children (see children).
func expand(t *Thread) []*Thread {
	switch {
	case t == nil:
		return nil
	case t.ID == 0:
		return children(t)
	}
	return []*Thread{t}
}
