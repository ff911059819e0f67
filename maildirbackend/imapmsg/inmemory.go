package imapmsg

import (
	"bytes"
	"io"

	"github.com/emersion/go-imap/v2"
)

// The functions of this file take a whole message in memory. They suit
// tests and small messages; a server reads files with the streaming
// methods of [Parsed], whose memory does not grow with the message.

// Section reads a message from r and returns the bytes of a BODY[...]
// section in CRLF form, as [Parsed.WriteBodySection] writes it.
func Section(r io.Reader, item *imap.FetchItemBodySection) ([]byte, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return SectionBytes(b, item), nil
}

// SectionBytes is [Section] for a message already in memory. The result
// never aliases b.
func SectionBytes(b []byte, item *imap.FetchItemBodySection) []byte {
	out := []byte{}
	src := bytes.NewReader(b)
	_ = ParseBytes(b).WriteBodySection(src, item, func(size int64) io.Writer {
		out = make([]byte, 0, size)
		return (*appender)(&out)
	})
	return out
}

// Binary reads a message from r and returns a BINARY[...] section, as
// [Parsed.WriteBinarySection] writes it.
func Binary(r io.Reader, item *imap.FetchItemBinarySection) ([]byte, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	out := []byte{}
	err = ParseBytes(b).WriteBinarySection(bytes.NewReader(b), item, func(size int64) io.Writer {
		out = make([]byte, 0, size)
		return (*appender)(&out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// BinarySize returns the size of BINARY[part] of the message read from r.
func BinarySize(r io.Reader, part []int) (int64, error) {
	b, err := readAll(r)
	if err != nil {
		return 0, err
	}
	return ParseBytes(b).BinarySize(bytes.NewReader(b), part)
}

// appender is an io.Writer appending to a byte slice.
type appender []byte

func (a *appender) Write(b []byte) (int, error) {
	*a = append(*a, b...)
	return len(b), nil
}

// MatchBody reports whether the body of the message read from r contains
// value, as [Parsed.MatchBody] does.
func MatchBody(r io.Reader, value string) (bool, error) {
	b, err := readAll(r)
	if err != nil {
		return false, err
	}
	return ParseBytes(b).MatchBody(bytes.NewReader(b), value)
}

// MatchText reports whether the header or body of the message read from r
// contains value, as [Parsed.MatchText] does.
func MatchText(r io.Reader, value string) (bool, error) {
	b, err := readAll(r)
	if err != nil {
		return false, err
	}
	return ParseBytes(b).MatchText(bytes.NewReader(b), value)
}
