package imapmsg

import (
	"io"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Parsed is what FETCH needs about one message without reading it again:
// ENVELOPE, BODYSTRUCTURE (and BODY), RFC822.SIZE and the header size. It is
// immutable once returned by [Parse] and safe to share between goroutines
// and to cache; callers must not modify the values it points to.
type Parsed struct {
	// Envelope is the ENVELOPE, shaped to match Dovecot's output through
	// go-imap's encoder (see buildEnvelope for the differences). Never nil.
	Envelope *imap.Envelope
	// BodyStructure is the BODYSTRUCTURE, with extension data always set,
	// so it serves FETCH BODY too. Never nil.
	BodyStructure imap.BodyStructure
	// Size is RFC822.SIZE: the message size with every bare LF as CRLF.
	Size int64
	// HeaderSize is the CRLF size of the top-level header including the
	// empty line that ends it (RFC822.HEADER / BODY[HEADER]).
	HeaderSize int64
}

// SentDate returns the parsed Date header field, for SEARCH SENTBEFORE,
// SENTON and SENTSINCE, or the zero time if it is absent or unparseable
// (the caller then falls back to INTERNALDATE, as Dovecot does).
func (p *Parsed) SentDate() time.Time { return p.Envelope.Date }

// Parse reads a whole message from r and returns its parsed form. It only
// fails on read errors: malformed content still yields an envelope (NIL
// fields) and a text/plain body structure.
func Parse(r io.Reader) (*Parsed, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return ParseBytes(b), nil
}

// ParseBytes is [Parse] for a message already in memory. It does not keep
// b.
func ParseBytes(b []byte) *Parsed {
	root := parseMessage(b, 0, len(b), "text", "plain", 0)
	return &Parsed{
		Envelope:      buildEnvelope(root.header),
		BodyStructure: buildBodyStructure(b, root),
		Size:          crlfLen(b),
		HeaderSize:    crlfLen(b[:root.bodyStart]),
	}
}
