package imapsort

import (
	"cmp"
	"slices"
)

// node is a container of the REFERENCES algorithm: a message, or a dummy
// (msg nil) for a referenced message ID that no searched message has.
type node struct {
	msg      *Message // nil for a dummy
	date     int64    // sent date of msg
	parent   *node
	children []*node
	rootPos  int  // index in the root list while a child of the root
	gone     bool // a dummy merged away in step 5
}

func (n *node) dummy() bool { return n.msg == nil }

// References threads msgs with the REFERENCES algorithm of RFC 5256 section
// 3: messages are linked to their parents by Message-ID, References and
// In-Reply-To, missing parents become dummy nodes (ID 0) that are pruned
// unless they join several threads, top-level threads with the same base
// subject are merged, and siblings are ordered by sent date, then ID.
//
// msgs are processed in ascending ID order, whatever their order in the
// slice: when several messages have the same Message-ID, the one with the
// lowest ID owns it. References does not modify msgs.
func References(msgs []Message) []*Thread {
	order := make([]*Message, len(msgs))
	for i := range msgs {
		order[i] = &msgs[i]
	}
	slices.SortStableFunc(order, func(a, b *Message) int { return cmp.Compare(a.ID, b.ID) })

	all := linkReferences(order)
	var roots []*node
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	roots = prune(roots, true)
	sortRoots(roots)
	roots = mergeBySubject(roots)
	sortTree(roots)
	return toThreads(roots)
}

// linkReferences is step (1) of REFERENCES: it builds the containers of
// msgs (in order) and of the message IDs they reference, linked parent to
// child. It returns every container, in creation order.
func linkReferences(order []*Message) []*node {
	byID := make(map[string]*node)
	var all []*node
	get := func(id string) *node {
		n := byID[id]
		if n == nil {
			n = &node{}
			byID[id] = n
			all = append(all, n)
		}
		return n
	}
	for _, m := range order {
		var self *node
		// A message without a valid Message-ID, or whose ID an earlier
		// message owns, gets a unique ID: a container of its own.
		if id := firstMsgID(m.MessageID); id != "" && byID[id].dummyOrNil() {
			self = get(id)
		} else {
			self = &node{}
			all = append(all, self)
		}
		self.msg, self.date = m, sentDate(m)

		refs := msgIDs(m.References)
		if len(refs) == 0 {
			if id := firstMsgID(m.InReplyTo); id != "" {
				refs = []string{id}
			}
		}
		// (1)(A): link each reference to the next, unless the child already
		// has a parent or the link would make a loop.
		var prev *node
		for _, id := range refs {
			n := get(id)
			if prev != nil && n.parent == nil && !isAncestor(n, prev) {
				link(prev, n)
			}
			prev = n
		}
		// (1)(B): the last reference is the parent, replacing any parent
		// that (A) of an earlier message guessed; no parent without
		// references, or when the link would make a loop.
		if self.parent != nil {
			unlink(self)
		}
		if prev != nil && !isAncestor(self, prev) {
			link(prev, self)
		}
	}
	return all
}

func (n *node) dummyOrNil() bool { return n == nil || n.msg == nil }

// isAncestor reports whether a is d or an ancestor of d. It is O(1) when a
// has no children, the usual case of a new message, and otherwise walks up
// from d.
func isAncestor(a, d *node) bool {
	if len(a.children) == 0 {
		return a == d
	}
	for n := d; n != nil; n = n.parent {
		if n == a {
			return true
		}
	}
	return false
}

func link(parent, child *node) {
	child.parent = parent
	parent.children = append(parent.children, child)
}

func unlink(child *node) {
	p := child.parent
	p.children = slices.DeleteFunc(p.children, func(c *node) bool { return c == child })
	child.parent = nil
}

// prune is step (3) of REFERENCES, applied to the children of one node
// (the root when atRoot): dummies without children go; a dummy's children
// take its place, unless that would put several of them at the root.
func prune(list []*node, atRoot bool) []*node {
	out := list[:0:0]
	for _, n := range list {
		n.children = prune(n.children, false)
		for _, c := range n.children {
			c.parent = n
		}
		if !n.dummy() || (atRoot && len(n.children) > 1) {
			out = append(out, n)
			continue
		}
		out = append(out, n.children...)
	}
	for _, n := range out {
		if atRoot {
			n.parent = nil
		}
	}
	return out
}

// sortRoots is step (4) of REFERENCES: the root's children by sent date,
// a dummy by its first child once its children are sorted.
func sortRoots(roots []*node) {
	for _, n := range roots {
		if n.dummy() {
			sortSiblings(n.children)
		}
	}
	sortSiblings(roots)
}

// sortTree is step (6) of REFERENCES: every set of siblings by sent date,
// the deepest first.
func sortTree(list []*node) {
	for _, n := range list {
		sortTree(n.children)
	}
	sortSiblings(list)
}

// sortSiblings orders list by sent date, then ID; a dummy counts as its
// first child.
func sortSiblings(list []*node) {
	slices.SortStableFunc(list, func(a, b *node) int {
		a, b = first(a), first(b)
		if a == nil || b == nil {
			return 0
		}
		return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(a.msg.ID, b.msg.ID))
	})
}

// first returns n, or for a dummy its first message child (nil if none).
func first(n *node) *node {
	for n != nil && n.dummy() {
		if len(n.children) == 0 {
			return nil
		}
		n = n.children[0]
	}
	return n
}
