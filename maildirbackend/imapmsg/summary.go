package imapmsg

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// summaryVersion is the first byte of an encoded [Summary]. A change of
// the layout below gets a new version; a decoder refuses the others.
const summaryVersion = 1

// maxSummaryDepth bounds the nesting a decoder follows (multipart and
// message/rfc822 levels; Parse stops at maxDepth), so that a damaged
// value cannot exhaust the stack.
const maxSummaryDepth = 4*maxDepth + 8

// ErrBadSummary is returned by [DecodeSummary] for bytes that are not an
// encoded Summary of this version.
var ErrBadSummary = errors.New("imapmsg: not an encoded summary")

// AppendBinary appends the binary encoding of s to b: a version byte, the
// sizes, the envelope and the body structure, strings as a length and
// bytes, lists and maps as count+1 (0 for nil, so that nil and empty
// survive: go-imap's encoder tells a nil Sender from an empty one). Maps
// are written sorted by key.
func (s *Summary) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, summaryVersion)
	b = binary.AppendUvarint(b, uint64(s.Size))
	b = binary.AppendUvarint(b, uint64(s.HeaderSize))
	b = appendEnvelope(b, s.Envelope)
	return appendBodyStructure(b, s.BodyStructure), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendCount(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendStrings(b []byte, l []string) []byte {
	b = appendCount(b, len(l), l == nil)
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

func appendMap(b []byte, m map[string]string) []byte {
	b = appendCount(b, len(m), m == nil)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(appendString(b, k), m[k])
	}
	return b
}

func appendAddresses(b []byte, l []imap.Address) []byte {
	b = appendCount(b, len(l), l == nil)
	for _, a := range l {
		b = appendString(appendString(appendString(b, a.Name), a.Mailbox), a.Host)
	}
	return b
}

func appendEnvelope(b []byte, env *imap.Envelope) []byte {
	if b = appendBool(b, env != nil); env == nil {
		return b
	}
	if b = appendBool(b, !env.Date.IsZero()); !env.Date.IsZero() {
		_, offset := env.Date.Zone()
		b = binary.AppendVarint(b, env.Date.Unix())
		b = binary.AppendVarint(b, int64(env.Date.Nanosecond()))
		b = binary.AppendVarint(b, int64(offset))
	}
	b = appendString(b, env.Subject)
	for _, l := range [][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		b = appendAddresses(b, l)
	}
	b = appendStrings(b, env.InReplyTo)
	return appendString(b, env.MessageID)
}

const (
	bsNil = iota
	bsSingle
	bsMulti
)

func appendDisposition(b []byte, d *imap.BodyStructureDisposition) []byte {
	if b = appendBool(b, d != nil); d != nil {
		b = appendMap(appendString(b, d.Value), d.Params)
	}
	return b
}

func appendBodyStructure(b []byte, bs imap.BodyStructure) []byte {
	switch bs := bs.(type) {
	case *imap.BodyStructureSinglePart:
		b = append(b, bsSingle)
		b = appendString(appendString(b, bs.Type), bs.Subtype)
		b = appendMap(b, bs.Params)
		b = appendString(appendString(appendString(b, bs.ID), bs.Description), bs.Encoding)
		b = binary.AppendUvarint(b, uint64(bs.Size))
		if b = appendBool(b, bs.MessageRFC822 != nil); bs.MessageRFC822 != nil {
			b = appendEnvelope(b, bs.MessageRFC822.Envelope)
			b = appendBodyStructure(b, bs.MessageRFC822.BodyStructure)
			b = binary.AppendVarint(b, bs.MessageRFC822.NumLines)
		}
		if b = appendBool(b, bs.Text != nil); bs.Text != nil {
			b = binary.AppendVarint(b, bs.Text.NumLines)
		}
		if b = appendBool(b, bs.Extended != nil); bs.Extended != nil {
			b = appendDisposition(b, bs.Extended.Disposition)
			b = appendString(appendStrings(b, bs.Extended.Language), bs.Extended.Location)
		}
	case *imap.BodyStructureMultiPart:
		b = append(b, bsMulti)
		b = appendCount(b, len(bs.Children), bs.Children == nil)
		for _, c := range bs.Children {
			b = appendBodyStructure(b, c)
		}
		b = appendString(b, bs.Subtype)
		if b = appendBool(b, bs.Extended != nil); bs.Extended != nil {
			b = appendDisposition(appendMap(b, bs.Extended.Params), bs.Extended.Disposition)
			b = appendString(appendStrings(b, bs.Extended.Language), bs.Extended.Location)
		}
	default:
		b = append(b, bsNil)
	}
	return b
}

// DecodeSummary decodes what [Summary.AppendBinary] wrote. The strings of
// the result share one copy of b; b is not kept. Damaged input yields
// [ErrBadSummary], never a panic.
func DecodeSummary(b []byte) (*Summary, error) {
	return decodeSummary(b, true)
}

// DecodeSummaryHeader is [DecodeSummary] without the body structure: the
// result is a header-only summary (not [Summary.Complete]), for a reader
// that needs the envelope only and saves decoding the rest.
func DecodeSummaryHeader(b []byte) (*Summary, error) {
	return decodeSummary(b, false)
}

func decodeSummary(b []byte, body bool) (*Summary, error) {
	d := &decoder{s: string(b)}
	if d.byte() != summaryVersion {
		return nil, ErrBadSummary
	}
	s := &Summary{Size: int64(d.uvarint()), HeaderSize: int64(d.uvarint())}
	s.Envelope = d.envelope()
	if !body {
		s.Size = s.HeaderSize
		if d.bad || s.Envelope == nil {
			return nil, ErrBadSummary
		}
		return s, nil
	}
	s.BodyStructure = d.bodyStructure(0)
	if d.bad || d.i != len(d.s) || s.Envelope == nil {
		return nil, ErrBadSummary
	}
	return s, nil
}

// decoder reads an encoded Summary; bad is set at the first damage, after
// which every read returns a zero value.
type decoder struct {
	s   string
	i   int
	bad bool
}

func (d *decoder) byte() byte {
	if d.bad || d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	d.i++
	return d.s[d.i-1]
}

func (d *decoder) bool() bool { return d.byte() == 1 }

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := d.byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.bad = true
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.s)-d.i) {
		d.bad = true
		return ""
	}
	d.i += int(n)
	return d.s[d.i-int(n) : d.i]
}

// count reads a count+1; ok is false for nil. A count larger than the
// bytes left is damage.
func (d *decoder) count() (n int, ok bool) {
	c := d.uvarint()
	if c == 0 || d.bad {
		return 0, false
	}
	if c-1 > uint64(len(d.s)-d.i) {
		d.bad = true
		return 0, false
	}
	return int(c - 1), true
}

func (d *decoder) strings() []string {
	n, ok := d.count()
	if !ok {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.string()
	}
	return l
}

func (d *decoder) stringMap() map[string]string {
	n, ok := d.count()
	if !ok {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

func (d *decoder) addresses() []imap.Address {
	n, ok := d.count()
	if !ok {
		return nil
	}
	l := make([]imap.Address, n)
	for i := range l {
		l[i] = imap.Address{Name: d.string(), Mailbox: d.string(), Host: d.string()}
	}
	return l
}

func (d *decoder) envelope() *imap.Envelope {
	if !d.bool() {
		return nil
	}
	env := &imap.Envelope{}
	if d.bool() {
		sec, nsec, offset := d.varint(), d.varint(), d.varint()
		// Offsets are whole minutes under 100 hours (RFC 5322 "+hhmm"):
		// anything else is damage, and fixedZone's table stays small.
		if offset%60 != 0 || offset <= -100*3600 || offset >= 100*3600 {
			d.bad = true
			return nil
		}
		env.Date = time.Unix(sec, nsec).In(fixedZone(int(offset)))
	}
	env.Subject = d.string()
	for _, l := range []*[]imap.Address{&env.From, &env.Sender, &env.ReplyTo, &env.To, &env.Cc, &env.Bcc} {
		*l = d.addresses()
	}
	env.InReplyTo = d.strings()
	env.MessageID = d.string()
	return env
}

func (d *decoder) disposition() *imap.BodyStructureDisposition {
	if !d.bool() {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: d.string(), Params: d.stringMap()}
}

func (d *decoder) bodyStructure(depth int) imap.BodyStructure {
	if depth > maxSummaryDepth {
		d.bad = true
	}
	switch d.byte() {
	case bsSingle:
		return d.singlePart(depth)
	case bsMulti:
		mp := &imap.BodyStructureMultiPart{}
		if n, ok := d.count(); ok {
			mp.Children = make([]imap.BodyStructure, 0, n)
			for range n {
				mp.Children = append(mp.Children, d.bodyStructure(depth+1))
			}
		}
		mp.Subtype = d.string()
		if d.bool() {
			mp.Extended = &imap.BodyStructureMultiPartExt{Params: d.stringMap(), Disposition: d.disposition()}
			mp.Extended.Language, mp.Extended.Location = d.strings(), d.string()
		}
		return mp
	case bsNil:
		return nil
	}
	d.bad = true
	return nil
}

func (d *decoder) singlePart(depth int) *imap.BodyStructureSinglePart {
	sp := &imap.BodyStructureSinglePart{Type: d.string(), Subtype: d.string(), Params: d.stringMap()}
	sp.ID, sp.Description, sp.Encoding = d.string(), d.string(), d.string()
	sp.Size = uint32(d.uvarint())
	if d.bool() {
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{Envelope: d.envelope(), BodyStructure: d.bodyStructure(depth + 1)}
		sp.MessageRFC822.NumLines = d.varint()
	}
	if d.bool() {
		sp.Text = &imap.BodyStructureText{NumLines: d.varint()}
	}
	if d.bool() {
		sp.Extended = &imap.BodyStructureSinglePartExt{Disposition: d.disposition()}
		sp.Extended.Language, sp.Extended.Location = d.strings(), d.string()
	}
	return sp
}

// zones holds one *time.Location per UTC offset, so that decoding a date
// allocates none.
var zones sync.Map // int -> *time.Location

func fixedZone(offset int) *time.Location {
	if l, ok := zones.Load(offset); ok {
		return l.(*time.Location)
	}
	l, _ := zones.LoadOrStore(offset, time.FixedZone("", offset))
	return l.(*time.Location)
}
