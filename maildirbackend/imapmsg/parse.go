package imapmsg

import (
	"bytes"
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Summary is what FETCH ENVELOPE, BODYSTRUCTURE and RFC822.SIZE answer of
// a message: the part of [Parsed] that a cache can keep apart from the
// file ([Summary.AppendBinary], [DecodeSummary]). It is immutable once
// made; callers must not modify the values it points to.
type Summary struct {
	// Envelope is the ENVELOPE, shaped to match Dovecot's output through
	// go-imap's encoder (see buildEnvelope for the differences). Never nil.
	Envelope *imap.Envelope
	// BodyStructure is the BODYSTRUCTURE, with extension data always set,
	// so it serves FETCH BODY too. Nil when only the header was read
	// ([ParseHeader]); then Size is HeaderSize.
	BodyStructure imap.BodyStructure
	// Size is RFC822.SIZE: the message size with every bare LF as CRLF.
	Size int64
	// HeaderSize is the CRLF size of the top-level header including the
	// empty line that ends it (RFC822.HEADER / BODY[HEADER]).
	HeaderSize int64
}

// Complete reports whether s knows the whole message (BODYSTRUCTURE and
// RFC822.SIZE), not only its header.
func (s *Summary) Complete() bool { return s != nil && s.BodyStructure != nil }

// Parsed is what FETCH needs about one message without parsing it again:
// its [Summary] and the MIME part tree as offsets into the file, from which
// sections are read and searched with bounded memory. It is immutable once
// returned by [Parse] and safe to share between goroutines and to cache;
// callers must not modify the values it points to.
type Parsed struct {
	Summary

	root        *part
	checkpoints []checkpoint // ascending
	nparts      int
}

// SentDate returns the parsed Date header field, for SEARCH SENTBEFORE,
// SENTON and SENTSINCE, or the zero time if it is absent or unparseable
// (the caller then falls back to INTERNALDATE, as Dovecot does).
func (s *Summary) SentDate() time.Time { return s.Envelope.Date }

// Parse reads a whole message from r and returns its parsed form. It reads
// in one streaming pass: its memory is bounded by the part tree and one
// header's ENVELOPE and Content-* fields, never the size of the message.
// It only fails on read errors: malformed content still yields an envelope
// (NIL fields) and a text/plain body structure.
func Parse(r io.Reader) (*Parsed, error) {
	root, cps, err := parseStructure(r, false)
	if err != nil {
		return nil, err
	}
	return &Parsed{
		Summary: Summary{
			Envelope:      root.envelope,
			BodyStructure: buildBodyStructure(root),
			Size:          root.endC,
			HeaderSize:    root.bodyStartC,
		},
		root:        root,
		checkpoints: cps,
		nparts:      countParts(root),
	}, nil
}

// ParseHeader reads the top-level header of a message from r, and
// nothing after its empty line. The result serves the ENVELOPE and the
// BODY[HEADER] and BODY[HEADER.FIELDS ...] sections (a client's header
// listing) only: its BodyStructure is nil and Size is HeaderSize.
func ParseHeader(r io.Reader) (*Parsed, error) {
	root, _, err := parseStructure(r, true)
	if err != nil {
		return nil, err
	}
	return &Parsed{Summary: Summary{Envelope: root.envelope, Size: root.endC, HeaderSize: root.bodyStartC}, root: root, nparts: 1}, nil
}

// ParseBytes is [Parse] for a message already in memory. It does not keep
// b.
func ParseBytes(b []byte) *Parsed {
	p, _ := Parse(bytes.NewReader(b)) // a bytes.Reader does not fail
	return p
}

// MemSize estimates the memory a Parsed holds, for a cache to bound: its
// Summary and, per MIME part, the part's node (about 300 bytes and its
// strings, most of which the body structure shares).
func (p *Parsed) MemSize() int64 {
	return p.Summary.MemSize() + 64 + int64(p.nparts)*320 + int64(len(p.checkpoints))*16
}

func countParts(p *part) int {
	n := 1
	for _, c := range p.children {
		n += countParts(c)
	}
	if p.msg != nil {
		n += countParts(p.msg)
	}
	return n
}
