package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// THREAD and UID THREAD (RFC 5256).

func init() {
	register(selected, handleThread, "THREAD", "UID THREAD")
}

func handleThread(c *Conn, cmd *command) error {
	s, ok := c.session.(SessionThread)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command " + cmd.name}
	}
	alg, search, err := cmd.p.threadArgs(s.ThreadAlgorithms())
	if err != nil {
		return err
	}
	threads, err := s.Thread(cmd.kind, alg, search)
	if err != nil {
		return err
	}
	e := &c.enc
	e.lock()
	defer e.unlock()
	writeThreads(e, threads)
	return e.err
}

// writeThreads writes "* THREAD" and the threads.
func writeThreads(e *encoder, threads []*Thread) {
	e.raw("* THREAD")
	sep := " "
	for _, t := range threads {
		if t == nil || (t.Num == 0 && len(threadChildren(t)) == 0) {
			continue
		}
		e.raw(sep)
		sep = ""
		writeThread(e, t)
	}
	e.crlf()
}

// threadArgs reads SP algorithm SP charset SP search-program CRLF. The
// algorithm must be one of algs.
func (p *parser) threadArgs(algs []imap.ThreadAlgorithm) (imap.ThreadAlgorithm, *imap.SearchCriteria, error) {
	name, err := p.spThen(p.atom)
	if err != nil {
		return "", nil, err
	}
	var alg imap.ThreadAlgorithm
	for _, a := range algs {
		if strings.EqualFold(name, string(a)) {
			alg = a
		}
	}
	if alg == "" {
		return "", nil, syntaxf("unknown THREAD algorithm %s", name)
	}
	search, err := p.charsetAndProgram()
	if err != nil {
		return "", nil, err
	}
	return alg, search, nil
}

// threadChildren returns the children of t with every node of number 0
// (a message referred to but not in the answer) replaced by its own
// children.
func threadChildren(t *Thread) []*Thread {
	var out []*Thread
	for _, c := range t.Children {
		if c == nil {
			continue
		}
		if c.Num == 0 {
			out = append(out, threadChildren(c)...)
		} else {
			out = append(out, c)
		}
	}
	return out
}

// writeThread writes one thread as RFC 5256's thread-list: a chain of
// single replies is "(1 2 3)", several replies are nested lists
// "(1 (2)(3 4))", and a thread whose root is not in the answer is the list
// of its subthreads "((2)(3))". Nothing is written for a root of number 0
// without descendants.
func writeThread(e *encoder, t *Thread) {
	if t == nil {
		return
	}
	if t.Num == 0 {
		kids := threadChildren(t)
		switch len(kids) {
		case 0:
			return
		case 1:
			writeThread(e, kids[0])
			return
		}
		e.byte('(')
		for _, k := range kids {
			writeThread(e, k)
		}
		e.byte(')')
		return
	}
	e.byte('(').num(t.Num)
	kids := threadChildren(t)
	for len(kids) == 1 {
		e.sp().num(kids[0].Num)
		kids = threadChildren(kids[0])
	}
	if len(kids) > 1 {
		e.sp()
		for _, k := range kids {
			writeThread(e, k)
		}
	}
	e.byte(')')
}
