package mutf7

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// alphabet is the modified base64 alphabet: RFC 3501 section 5.1.3 uses ','
// in place of base64's '/'.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// ErrMalformed is wrapped by every error [Decode] returns.
var ErrMalformed = errors.New("mutf7: malformed modified UTF-7")

var decodeTable = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// direct reports whether r is written as itself (printable US-ASCII but '&').
func direct(r rune) bool { return r >= 0x20 && r <= 0x7e && r != '&' }

// Encode returns s (UTF-8) in IMAP modified UTF-7. Invalid UTF-8 bytes are
// encoded as U+FFFD. Encode never fails; Decode(Encode(s)) == s for valid
// UTF-8 s.
func Encode(s string) string {
	// Fast path: nothing to encode.
	plain := true
	for i := 0; i < len(s); i++ {
		if !direct(rune(s[i])) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var units []uint16
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '&' {
			b.WriteString("&-")
			i += size
			continue
		}
		if direct(r) {
			b.WriteByte(byte(r))
			i += size
			continue
		}
		units = units[:0]
		for i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
			if direct(r) || r == '&' {
				break
			}
			units = utf16.AppendRune(units, r)
			i += size
		}
		b.WriteByte('&')
		writeBase64(&b, units)
		b.WriteByte('-')
	}
	return b.String()
}

// writeBase64 writes the modified base64 of units in UTF-16BE, unpadded.
func writeBase64(b *strings.Builder, units []uint16) {
	var acc uint32
	bits := 0
	for _, u := range units {
		acc = acc<<16 | uint32(u)
		bits += 16
		for bits >= 6 {
			bits -= 6
			b.WriteByte(alphabet[(acc>>uint(bits))&0x3f])
		}
		acc &= 1<<uint(bits) - 1
	}
	if bits > 0 {
		b.WriteByte(alphabet[(acc<<uint(6-bits))&0x3f])
	}
}

// Decode returns the UTF-8 form of the modified UTF-7 string s. It fails,
// with an error wrapping [ErrMalformed], on bytes outside US-ASCII, a shift
// sequence without its closing '-', characters outside the modified base64
// alphabet, a base64 run that is not a whole number of UTF-16 units, and
// unpaired surrogates. It is lenient about non-minimal encodings (printable
// ASCII inside a shift sequence, adjacent shift sequences, non-zero padding
// bits). Decode never panics.
func Decode(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return "", fmt.Errorf("%w: non-ASCII byte at offset %d", ErrMalformed, i)
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	var units []uint16
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			return "", fmt.Errorf("%w: non-ASCII byte at offset %d", ErrMalformed, i)
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", fmt.Errorf("%w: unterminated shift sequence at offset %d", ErrMalformed, i)
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		var err error
		units, err = decodeBase64(units[:0], enc)
		if err != nil {
			return "", err
		}
		if err := writeUTF16(&b, units); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// decodeBase64 appends the UTF-16 units encoded in enc to units.
func decodeBase64(units []uint16, enc string) ([]uint16, error) {
	var acc uint32
	bits := 0
	for j := 0; j < len(enc); j++ {
		v := decodeTable[enc[j]]
		if v < 0 {
			return nil, fmt.Errorf("%w: invalid base64 character %q", ErrMalformed, enc[j])
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>uint(bits)))
			acc &= 1<<uint(bits) - 1
		}
	}
	// Left-over bits are padding: fewer than 6 of them are allowed (an
	// encoder pads to whole base64 characters only).
	if bits >= 6 {
		return nil, fmt.Errorf("%w: base64 run %q is not a whole number of UTF-16 units", ErrMalformed, enc)
	}
	return units, nil
}

// writeUTF16 writes units as UTF-8, rejecting unpaired surrogates.
func writeUTF16(b *strings.Builder, units []uint16) error {
	for k := 0; k < len(units); k++ {
		u := rune(units[k])
		switch {
		case utf16.IsSurrogate(u):
			if u >= 0xdc00 || k+1 >= len(units) {
				return fmt.Errorf("%w: unpaired surrogate %#04x", ErrMalformed, u)
			}
			r := utf16.DecodeRune(u, rune(units[k+1]))
			if r == utf8.RuneError {
				return fmt.Errorf("%w: unpaired surrogate %#04x", ErrMalformed, u)
			}
			b.WriteRune(r)
			k++
		default:
			b.WriteRune(u)
		}
	}
	return nil
}
