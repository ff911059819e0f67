package imapmsg

import "bytes"

// flushBase64 appends the bytes a trailing partial base64 group completes.
func flushBase64(out []byte, acc uint32, n int) []byte {
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}

// decodeQP appends to out the decoding of quoted-printable (RFC 2045 section 6.7) leniently:
// trailing white space is dropped, "=" at the end of a line is a soft line
// break, an "=" not followed by two hex digits is kept as is, and hard line
// breaks become CRLF.
func decodeQP(out, src []byte) []byte {
	for len(src) > 0 {
		line := src
		eol := false
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src, eol = src[:i], src[i+1:], true
		} else {
			src = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := false
		if len(line) > 0 && line[len(line)-1] == '=' {
			soft, line = true, line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if eol && !soft {
			out = append(out, '\r', '\n')
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
