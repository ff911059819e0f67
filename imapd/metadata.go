package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

// METADATA (RFC 5464): the types of SessionMetadata and the rules for entry
// names that GETMETADATA and SETMETADATA share.

// MetadataDepth is GETMETADATA's DEPTH option (RFC 5464 section 4.2.2).
type MetadataDepth int

// The depths GETMETADATA knows.
const (
	MetadataDepthZero     MetadataDepth = 0  // the entry alone
	MetadataDepthOne      MetadataDepth = 1  // and its children
	MetadataDepthInfinity MetadataDepth = -1 // and every entry below it
)

// MetadataEntry is one entry of a mailbox or of the server.
type MetadataEntry struct {
	Name  string // lower case: "/private/comment"
	Value []byte // nil: NIL (no value; in SETMETADATA, remove it)
}

// MetadataLimits bound what one SETMETADATA may carry. A zero field means
// its default: 64 KiB, 1 MiB and 1000.
type MetadataLimits struct {
	// MaxValueSize bounds one value: a larger one is answered
	// NO [METADATA MAXSIZE n] before it is read.
	MaxValueSize int64
	// MaxCommandSize bounds the names and values of one command, and
	// MaxEntries its number of entries: over them, NO [METADATA TOOMANY]
	// before more is read.
	MaxCommandSize int64
	MaxEntries     int
}

// withDefaults fills the zero fields of l.
func (l MetadataLimits) withDefaults() MetadataLimits {
	if l.MaxValueSize <= 0 {
		l.MaxValueSize = 64 << 10
	}
	if l.MaxCommandSize <= 0 {
		l.MaxCommandSize = 1 << 20
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1000
	}
	return l
}

// maxEntryName bounds an entry name (Dovecot has only its line length,
// 64 KiB; no client needs more than a few dozen bytes).
const maxEntryName = 1024

// maxGetEntries bounds the entries one GETMETADATA asks for.
const maxGetEntries = 1000

// errMetadataTooMany is RFC 5464's answer when a command would store more
// entries or bytes than the session allows (section 4.3).
var errMetadataTooMany = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "METADATA TOOMANY",
	Text: "Too many metadata entries or bytes"}

// errMetadataMaxSize answers a value over the limit (RFC 5464 section 4.3).
func errMetadataMaxSize(max int64) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode(fmt.Sprintf("METADATA MAXSIZE %d", max)),
		Text: "Metadata value too large"}
}

// entryName reads an entry name, checks it as Dovecot does
// (imap_metadata_verify_entry_name) and returns it in lower case: entry
// names are case-insensitive (RFC 5464 section 3.2).
func (p *parser) entryName() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	var name string
	if b == '"' || b == '{' {
		name, err = p.str()
	} else {
		// '*' and '%' are read, so that they are refused in Dovecot's
		// words rather than as a syntax error.
		name, err = p.run(isListChar, "entry name")
	}
	if err != nil {
		return "", err
	}
	if err := checkEntryName(name); err != nil {
		return "", err
	}
	return strings.ToLower(name), nil
}

// CheckMetadataEntryName reports whether name is a valid entry name of
// RFC 5464 (section 3.2): "/private/..." or "/shared/...", without "*",
// "%", "//", control characters or a trailing "/". Configurations use it
// for the entries they define.
func CheckMetadataEntryName(name string) error {
	if err := checkEntryName(name); err != nil {
		return errors.New(err.Error())
	}
	return nil
}

// checkEntryName applies RFC 5464 section 3.2's rules, in Dovecot's words.
func checkEntryName(name string) error {
	if len(name) > maxEntryName {
		return syntaxf("Entry name too long")
	}
	if !strings.HasPrefix(name, "/") {
		return syntaxf("Entry name must begin with '/'")
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b == '/' && i > 0 && name[i-1] == '/':
			return syntaxf("Entry name can't contain consecutive '/'")
		case b == '/' && i == len(name)-1:
			return syntaxf("Entry name can't end with '/'")
		case b == '*':
			return syntaxf("Entry name can't contain '*'")
		case b == '%':
			return syntaxf("Entry name can't contain '%%'")
		case b < 0x20 || b == 0x7f:
			return syntaxf("Entry name can't contain control chars")
		}
	}
	if !utf8.ValidString(name) {
		return syntaxf("Entry name must be UTF-8")
	}
	top, _, _ := strings.Cut(name[1:], "/")
	if !strings.EqualFold(top, "private") && !strings.EqualFold(top, "shared") {
		return syntaxf("Entry name must begin with /private or /shared")
	}
	return nil
}

// metadataValue writes a value as Dovecot does, as a literal ({n}),
// or a binary literal (~{n}, RFC 3516) when it holds a NUL; nil is NIL.
func (e *encoder) metadataValue(v []byte) *encoder {
	if v == nil {
		return e.raw("NIL")
	}
	if bytes.IndexByte(v, 0) >= 0 {
		e.byte('~')
	}
	e.byte('{').num64(int64(len(v))).raw("}\r\n")
	return e.rawBytes(v)
}
