package imapmsg

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// segment is one piece of the text SEARCH BODY and TEXT match: a header
// field of the message or of an embedded message ("name: value", decoded
// and case-folded, in text), or the decoded, case-folded text of a text
// part (read from r). A needle matches within one segment, never across
// two.
type segment struct {
	header bool
	text   string
	r      io.Reader
}

// walkText calls fn with each segment of part p, in order: with headers,
// the header fields of p (a message's header, or a body part's MIME
// header), then its body (multipart children, the embedded message of a
// message/rfc822 part, or its text when it is a text part; other parts
// have none). It stops when fn returns true, and reports whether one did.
//
// Dovecot (src/lib-mail/message-search.c): SEARCH TEXT looks in the MIME
// headers of body parts too, which are part of the message's body text
// (RFC 3501 section 6.4.4: "header or body"); BODY does not.
func walkText(src io.ReaderAt, p *part, headers bool, fn func(segment) (bool, error)) (bool, error) {
	if headers {
		hdr := io.NewSectionReader(src, p.start, p.bodyStart-p.start)
		all := func(string) bool { return true }
		var ferr error
		ok, err := eachField(hdr, all, func(f field) bool {
			stop, err := fn(segment{header: true, text: fold(f.name + ": " + decodeHeader(unfold(f.value)))})
			if err != nil {
				ferr = err
				return true
			}
			return stop
		})
		if ferr != nil {
			return false, ferr
		}
		if ok || err != nil {
			return ok, err
		}
	}
	switch {
	case p.multipart:
		for _, c := range p.children {
			if ok, err := walkText(src, c, headers, fn); ok || err != nil {
				return ok, err
			}
		}
	case p.msg != nil:
		return walkText(src, p.msg, headers, fn)
	case p.isText():
		tr, done := textReader(src, p)
		defer done()
		fr := newFoldReader(tr)
		defer putFoldReader(fr)
		return fn(segment{r: fr})
	}
	return false, nil
}

// MatchAll answers the SEARCH BODY keys body and TEXT keys text of the
// message read from src (the file p was parsed from) in one read of it:
// bodyHit[i] reports whether body[i] occurs in the decoded body text (as
// [Parsed.MatchBody]) and textHit[j] whether text[j] occurs in the decoded
// headers or body text (as [Parsed.MatchText]). It stops reading once
// every key has matched, and holds one 64 KiB window plus the longest key.
func (p *Parsed) MatchAll(src io.ReaderAt, body, text []string) (bodyHit, textHit []bool, err error) {
	return matchTree(src, p.root, Keys{Body: body, Text: text})
}

// matchTree answers k for the message whose part tree is root, reading
// its text from src.
func matchTree(src io.ReaderAt, root *part, k Keys) (bodyHit, textHit []bool, err error) {
	ns := newNeedleSet(k.Body, k.Text)
	bodyHit, textHit = ns.hit[:len(k.Body)], ns.hit[len(k.Body):]
	if ns.left == 0 {
		return bodyHit, textHit, nil
	}
	if k.Decided != nil {
		ns.decided = func() bool { return k.Decided(bodyHit, textHit) }
	}
	_, err = walkText(src, root, len(k.Text) > 0, func(s segment) (bool, error) {
		if s.header {
			ns.scanHeader(s.text)
		} else if err := ns.scanBody(s.r); err != nil {
			return false, err
		}
		return ns.finished(), nil
	})
	return bodyHit, textHit, err
}

// needleSet is the keys of one [Parsed.MatchAll]: body keys first, then
// text keys, folded.
type needleSet struct {
	needles [][]byte
	inHead  []bool // the key is a TEXT key: header fields count
	hit     []bool
	left    int         // keys without a hit yet
	decided func() bool // may be nil: see [Keys.Decided]
	done    bool        // decided said so
}

// mark records the first hit of key i.
func (ns *needleSet) mark(i int) {
	ns.hit[i] = true
	ns.left--
	if ns.left > 0 && ns.decided != nil && ns.decided() {
		ns.done = true
	}
}

// finished reports whether reading on can change no answer.
func (ns *needleSet) finished() bool { return ns.left == 0 || ns.done }

func newNeedleSet(body, text []string) *needleSet {
	n := len(body) + len(text)
	ns := &needleSet{needles: make([][]byte, n), inHead: make([]bool, n), hit: make([]bool, n)}
	for i, v := range append(append([]string(nil), body...), text...) {
		ns.needles[i] = []byte(fold(v))
		ns.inHead[i] = i >= len(body)
		if len(ns.needles[i]) == 0 {
			ns.hit[i] = true // an empty key matches every message
		} else {
			ns.left++
		}
	}
	return ns
}

func (ns *needleSet) scanHeader(text string) {
	for i, nd := range ns.needles {
		if !ns.hit[i] && ns.inHead[i] && strings.Contains(text, string(nd)) {
			if ns.mark(i); ns.done {
				return
			}
		}
	}
}

// scanBody reads folded text from r and marks the keys it contains. It
// holds a 64 KiB window plus the longest key still looked for.
func (ns *needleSet) scanBody(r io.Reader) error {
	wp := chunks.Get().(*[]byte)
	defer chunks.Put(wp)
	keep := ns.keep()
	win := (*wp)[:0]
	if cap(win) < 2*keep+1 {
		win = make([]byte, 0, 2*keep+len(*wp)) // a key over 32 KiB
	}
	for !ns.finished() {
		n, err := r.Read(win[len(win):cap(win)])
		if n > 0 {
			win = win[:len(win)+n]
			for i, nd := range ns.needles {
				if !ns.hit[i] && bytes.Contains(win, nd) {
					if ns.mark(i); ns.done {
						return nil
					}
				}
			}
			if len(win) > keep {
				win = append(win[:0], win[len(win)-keep:]...)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("imapmsg: reading message: %w", err)
		}
	}
	return nil
}

// keep is how much of the window a read keeps for the next: the length of
// the longest key minus one.
func (ns *needleSet) keep() int {
	k := 0
	for i, nd := range ns.needles {
		if !ns.hit[i] {
			k = max(k, len(nd)-1)
		}
	}
	return k
}
