package imapmsg

import (
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
)

// HeaderFields returns the fields of the top-level header read from r whose
// names want accepts, raw (line endings as written, continuation lines
// included), in header order: what BODY[HEADER.FIELDS (...)] answers of
// them, for a cache to keep. It splits the header as that section does,
// so [HeaderFieldsMessage] of the result answers every HEADER.FIELDS whose
// names want all accepts exactly as the file would. ok is false when the
// fields would exceed max bytes or the header ends without a line ending
// (the file answers those).
func HeaderFields(r io.Reader, want func(name string) bool, max int) (fields []byte, ok bool, err error) {
	br := getReader(r)
	defer putReader(br)
	fields = []byte{}
	ended, err := scanFields(br, want, func(frag []byte) error {
		if len(fields)+len(frag) > max {
			return errFieldsTooBig
		}
		fields = append(fields, frag...)
		return nil
	})
	if err == errFieldsTooBig {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("imapmsg: reading message: %w", err)
	}
	return fields, ended, nil
}

// errFieldsTooBig ends a HeaderFields scan past its limit.
var errFieldsTooBig = errors.New("header fields over the limit")

// HeaderFieldsMessage returns the message a cache stands in for the file
// when answering HEADER.FIELDS from fields kept by [HeaderFields]: those
// fields and the empty line. Read it with [ParseHeader].
func HeaderFieldsMessage(fields []byte) []byte {
	msg := make([]byte, len(fields)+1)
	copy(msg, fields)
	msg[len(fields)] = '\n'
	return msg
}

// MemSize estimates the memory s holds, for a cache to bound: the
// structures and the strings they point to.
func (s *Summary) MemSize() int64 {
	return 64 + envelopeSize(s.Envelope) + bodyStructureSize(s.BodyStructure)
}

func envelopeSize(env *imap.Envelope) int64 {
	if env == nil {
		return 0
	}
	n := int64(200 + len(env.Subject) + len(env.MessageID))
	for _, l := range [][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		for _, a := range l {
			n += 48 + int64(len(a.Name)+len(a.Mailbox)+len(a.Host))
		}
	}
	for _, s := range env.InReplyTo {
		n += 16 + int64(len(s))
	}
	return n
}

func mapSize(m map[string]string) int64 {
	n := int64(0)
	if m != nil {
		n = 48
	}
	for k, v := range m {
		n += 40 + int64(len(k)+len(v))
	}
	return n
}

func bodyStructureSize(bs imap.BodyStructure) int64 {
	switch bs := bs.(type) {
	case *imap.BodyStructureSinglePart:
		n := 200 + mapSize(bs.Params) + int64(len(bs.Type)+len(bs.Subtype)+len(bs.ID)+len(bs.Description)+len(bs.Encoding))
		if m := bs.MessageRFC822; m != nil {
			n += 40 + envelopeSize(m.Envelope) + bodyStructureSize(m.BodyStructure)
		}
		if bs.Extended != nil {
			n += 64 + int64(len(bs.Extended.Location)) + dispositionSize(bs.Extended.Disposition)
		}
		return n
	case *imap.BodyStructureMultiPart:
		n := 120 + int64(len(bs.Subtype))
		for _, c := range bs.Children {
			n += 16 + bodyStructureSize(c)
		}
		if bs.Extended != nil {
			n += 80 + mapSize(bs.Extended.Params) + int64(len(bs.Extended.Location)) + dispositionSize(bs.Extended.Disposition)
		}
		return n
	}
	return 0
}

func dispositionSize(d *imap.BodyStructureDisposition) int64 {
	if d == nil {
		return 0
	}
	return 32 + int64(len(d.Value)) + mapSize(d.Params)
}

// HeaderFieldsParsed returns, without parsing, a Parsed of msg (what
// [HeaderFieldsMessage] returned) that answers BODY[HEADER.FIELDS (...)]
// and BODY[HEADER.FIELDS.NOT (...)] of the top-level header with msg as
// the source, and nothing else: its summary is empty.
func HeaderFieldsParsed(msg []byte) *Parsed {
	n := int64(len(msg))
	return &Parsed{
		Summary: Summary{Envelope: &imap.Envelope{}, Size: n, HeaderSize: n},
		root:    &part{bodyStart: n, bodyStartC: n, end: n, endC: n},
		nparts:  1,
	}
}
