package imapsort

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// casemap returns the sort key of s under the i;unicode-casemap collation
// (RFC 5051 section 2): every character is replaced by its titlecase form and
// then by its full (canonical and compatibility) decomposition, whose
// characters are titlecased again; the keys of two strings compare as octet
// strings. Invalid UTF-8 counts as U+FFFD.
//
// RFC 5051 section 2 leaves combining marks in their input order: each
// character is decomposed on its own, without the canonical reordering
// that NFKD of a whole string would do.
func casemap(s string) string {
	if isASCII(s) {
		return strings.ToUpper(s) // no copy when there is nothing to change
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		r = unicode.ToTitle(r)
		d := norm.NFKD.String(string(r))
		if d == string(r) {
			b.WriteString(d)
			continue
		}
		for _, c := range d {
			b.WriteRune(unicode.ToTitle(c))
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
