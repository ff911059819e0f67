package maildirbackend

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// cacheEntry is what the cache file holds of one message, keyed by the
// message's key (its file name before the flags, which names one content
// for ever in a Maildir).
type cacheEntry struct {
	sum *imapmsg.Summary // never nil; complete or header-only
	// fields are the message's header fields named in cachedFieldNames
	// (imapmsg.HeaderFields); nil when not kept (noFields says why).
	fields   []byte
	noFields bool // the fields exceed maxCachedFields: the file answers
	// fsize and mtime are the file's size and modification time when it
	// was read: an entry whose file no longer has them is read again.
	fsize, mtime int64
}

// entryVersion is the first byte of an encoded entry.
const entryVersion = 1

const (
	entryHasFields = 1 << iota
	entryNoFields
)

// maxCachedFields bounds the header fields an entry keeps; a message with
// more (a References of thousands of IDs) answers from its file.
const maxCachedFields = 8 << 10

// cachedFieldNames are the header fields the cache keeps, lower case: the
// union of what the header listings of common clients ask for
// (Thunderbird, K-9 Mail / Thunderbird for Android, Apple Mail, mutt's and
// neomutt's header cache, Roundcube, Evolution), plus those THREAD and
// SEARCH read. A HEADER.FIELDS that names only these needs no file read.
var cachedFieldNames = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "date": true, "message-id": true,
	"priority": true, "x-priority": true, "importance": true, "references": true, "newsgroups": true,
	"in-reply-to": true, "content-type": true, "reply-to": true, "sender": true, "content-description": true,
	"lines": true, "list-post": true, "list-subscribe": true, "list-unsubscribe": true, "list-id": true,
	"x-label": true, "x-original-to": true, "disposition-notification-to": true, "x-k9mail-identity": true,
	"chat-version": true, "x-uniform-type-identifier": true, "x-universally-unique-identifier": true,
	"mime-version": true, "content-transfer-encoding": true, "x-mailer": true, "user-agent": true,
	"return-path": true, "delivered-to": true, "x-spam-flag": true, "x-spam-status": true,
}

// cacheOff turns the cache file and the cached header fields off, for
// tests that compare answers with and without them.
var cacheOff bool

// cachedField reports whether the cache keeps header fields named name.
func cachedField(name string) bool {
	if cacheOff {
		return false
	}
	var buf [40]byte
	if len(name) > len(buf) {
		return false // longer than any of them
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return cachedFieldNames[string(buf[:len(name)])] // no allocation
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode returns the entry's bytes: version, flags, fsize, mtime, the
// summary's length and bytes, the fields, and a CRC-32C of all that, so
// that a page damaged on disk is read as a miss, not as another message's
// envelope.
func (e *cacheEntry) encode() []byte {
	sum, _ := e.sum.AppendBinary(nil)
	b := make([]byte, 0, 24+len(sum)+len(e.fields))
	flags := byte(0)
	if e.fields != nil {
		flags |= entryHasFields
	}
	if e.noFields {
		flags |= entryNoFields
	}
	b = append(b, entryVersion, flags)
	b = binary.AppendUvarint(b, uint64(e.fsize))
	b = binary.AppendVarint(b, e.mtime)
	b = binary.AppendUvarint(b, uint64(len(sum)))
	b = append(b, sum...)
	b = append(b, e.fields...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadEntry = errors.New("cache entry damaged or of another version")

// decodeEntry decodes what encode wrote. The result keeps nothing of b
// (bbolt's values live only as long as their transaction).
func decodeEntry(b []byte) (*cacheEntry, error) {
	return decodeEntryFor(b, needComplete|needFields)
}

// decodeEntryFor decodes what need asks of an entry: the body structure
// only for needComplete, the fields only for needFields (the rest is left
// unknown, as if the entry lacked it), so that a FETCH ENVELOPE decodes
// the envelope only.
func decodeEntryFor(b []byte, need needs) (*cacheEntry, error) {
	if len(b) < 6 || b[0] != entryVersion {
		return nil, errBadEntry
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errBadEntry
	}
	flags := body[1]
	rest := body[2:]
	fsize, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, errBadEntry
	}
	rest = rest[n:]
	mtime, n := binary.Varint(rest)
	if n <= 0 {
		return nil, errBadEntry
	}
	rest = rest[n:]
	slen, n := binary.Uvarint(rest)
	if n <= 0 || slen > uint64(len(rest)-n) {
		return nil, errBadEntry
	}
	rest = rest[n:]
	decode := imapmsg.DecodeSummaryHeader
	if need&needComplete != 0 {
		decode = imapmsg.DecodeSummary
	}
	sum, err := decode(rest[:slen])
	if err != nil {
		return nil, err
	}
	e := &cacheEntry{sum: sum, fsize: int64(fsize), mtime: mtime}
	if need&needFields != 0 {
		e.noFields = flags&entryNoFields != 0
		if flags&entryHasFields != 0 {
			e.fields = append([]byte{}, rest[slen:]...)
		}
	}
	return e, nil
}
