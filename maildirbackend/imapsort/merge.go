package imapsort

// subjectInfo is the thread subject of a child of the root (RFC 5256
// section 3, REFERENCES step (5)(B)(i)): the base subject of its message, or
// of its first child if it is a dummy, as a collation key.
type subjectInfo struct {
	key        string
	replyOrFwd bool // of the message itself; false for a dummy
}

// threadSubject returns the thread subject of n, a child of the root.
func threadSubject(n *node) subjectInfo {
	m := first(n)
	if m == nil {
		return subjectInfo{}
	}
	key, reply := subjectKey(m.msg.Subject)
	return subjectInfo{key: key, replyOrFwd: reply && !n.dummy()}
}

// mergeBySubject is step (5) of REFERENCES: children of the root whose
// thread subjects are equal and not empty are gathered under one of them or
// under a new dummy. It returns the new list of the root's children, in the
// order of roots, a new dummy in the place of the node it took in.
func mergeBySubject(roots []*node) []*node {
	subj := make([]subjectInfo, len(roots))
	table := make(map[string]*node)
	// A message in the table is a child of the root: its rootPos indexes
	// subj.
	isReply := func(t *node) bool { return !t.dummy() && subj[t.rootPos].replyOrFwd }
	// (B): one node per subject: a dummy if there is one, else a message
	// that is not a reply or forward if there is one, else the first.
	for i, n := range roots {
		n.rootPos = i
		subj[i] = threadSubject(n)
		if subj[i].key == "" {
			continue
		}
		t := table[subj[i].key]
		if t == nil || (!t.dummy() && (n.dummy() || (isReply(t) && !subj[i].replyOrFwd))) {
			table[subj[i].key] = n
		}
	}
	// (C): merge every other node with the subject into the table's.
	out := append([]*node(nil), roots...)
	for i, n := range roots {
		if subj[i].key == "" || n.parent != nil || n.gone {
			continue
		}
		t := table[subj[i].key]
		if t == n {
			continue
		}
		switch {
		case t.dummy() && n.dummy():
			for _, c := range n.children {
				link(t, c)
			}
			n.children = nil
			n.gone = true
		case t.dummy() || (subj[i].replyOrFwd && !isReply(t)):
			link(t, n)
		default:
			d := &node{rootPos: t.rootPos}
			out[t.rootPos] = d
			link(d, t)
			link(d, n)
			table[subj[i].key] = d
		}
		out[i] = nil
	}
	kept := out[:0]
	for _, n := range out {
		if n != nil {
			kept = append(kept, n)
		}
	}
	return kept
}

// toThreads converts the containers under the root to Threads.
func toThreads(list []*node) []*Thread {
	if len(list) == 0 {
		return nil
	}
	out := make([]*Thread, len(list))
	for i, n := range list {
		t := &Thread{Children: toThreads(n.children)}
		if !n.dummy() {
			t.ID = n.msg.ID
		}
		out[i] = t
	}
	return out
}
