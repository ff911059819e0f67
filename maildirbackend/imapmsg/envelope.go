package imapmsg

import (
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Dovecot (src/lib-mail/message-address.h): with FILL_MISSING, as used for
// ENVELOPE, a missing local-part or domain is reported as these strings.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// buildEnvelope builds the ENVELOPE of a message from its header.
//
// Dovecot reports the Date, Subject, In-Reply-To and Message-ID fields and
// the display names raw (encoded words kept). go-imap's types and encoder
// (imapserver/fetch.go writeEnvelope) limit how exactly that can be
// reproduced:
//   - Date is a time.Time, written as "Mon, 02 Jan 2006 15:04:05 -0700".
//     The written value equals Dovecot's raw string only when the header is
//     already in that form (the usual case; the offset is kept). A Date with
//     a one-digit day, a comment or a named zone is re-formatted, and an
//     unparseable Date is NIL where Dovecot would send the raw text.
//   - Subject and names are written through mime.QEncoding.Encode, which
//     leaves printable ASCII alone, so raw values (encoded words included)
//     pass through unchanged. Raw 8-bit text is Q-encoded where Dovecot
//     would send it raw. An empty Subject is NIL (Dovecot: "").
//   - Message-ID and In-Reply-To are written as "<" + value + ">", so we
//     store the raw value without its outer angle brackets; a raw value that
//     does not start with '<' and end with '>' gains brackets. In-Reply-To
//     holds one element: the whole raw value between the outer brackets.
//
// Contrary to go-imap's documentation of imap.Envelope, Subject and names
// are therefore not decoded: they are the raw header text.
func buildEnvelope(h header) *imap.Envelope {
	env := &imap.Envelope{}
	if v, ok := h.get("Date"); ok {
		env.Date = parseDate(v)
	}
	env.Subject, _ = h.get("Subject")
	env.From = addressField(h, "From")
	env.Sender = addressField(h, "Sender")
	env.ReplyTo = addressField(h, "Reply-To")
	env.To = addressField(h, "To")
	env.Cc = addressField(h, "Cc")
	env.Bcc = addressField(h, "Bcc")
	if v, ok := h.get("In-Reply-To"); ok && v != "" {
		env.InReplyTo = []string{stripBrackets(v)}
	}
	if v, ok := h.get("Message-ID"); ok {
		env.MessageID = stripBrackets(v)
	}
	return env
}

// parseDate parses an RFC 5322 date; the zero time if it cannot.
func parseDate(v string) time.Time {
	t, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t
}

func stripBrackets(v string) string {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		return v[1 : len(v)-1]
	}
	return v
}

func addressField(h header, name string) []imap.Address {
	v, ok := h.get(name)
	if !ok {
		return nil
	}
	return parseAddressList(v)
}

// parseAddressList parses an address list leniently, the way Dovecot's
// message_address_parse does for ENVELOPE: groups become a start marker
// (Mailbox = group name) and an end marker (all empty); a missing local-part
// or domain is filled with MISSING_MAILBOX / MISSING_DOMAIN; without a
// display name, the comment after an addr-spec is the name.
func parseAddressList(v string) []imap.Address {
	s := &scanner{s: v}
	var out []imap.Address
	inGroup := false
	for {
		s.skipCFWS()
		if s.eof() {
			break
		}
		switch s.peek() {
		case ',':
			s.i++
			continue
		case ';':
			s.i++
			if inGroup {
				out = append(out, imap.Address{})
				inGroup = false
			}
			continue
		}
		s.lastComment = ""
		words := s.words()
		c := s.peek()
		switch {
		case c == ':' && !inGroup && !s.eof():
			s.i++
			out = append(out, imap.Address{Mailbox: strings.Join(words, " ")})
			inGroup = true
		case c == '<' && !s.eof():
			s.i++
			addr := s.angleAddr()
			addr.Name = strings.Join(words, " ")
			out = append(out, addr)
		case c == '@' && !s.eof():
			s.i++
			local := strings.Join(words, "")
			if local == "" {
				local = missingMailbox
			}
			s.lastComment = ""
			host := s.domain()
			out = append(out, imap.Address{Name: s.lastComment, Mailbox: local, Host: host})
		case len(words) > 0:
			out = append(out, imap.Address{Name: s.lastComment, Mailbox: strings.Join(words, ""), Host: missingDomain})
		default:
			s.i++ // stray character
		}
	}
	if inGroup {
		out = append(out, imap.Address{})
	}
	return out
}

// words reads a phrase or local-part: atoms (with dots) and quoted strings.
func (s *scanner) words() []string {
	var words []string
	for {
		s.skipCFWS()
		if s.eof() {
			return words
		}
		if s.peek() == '"' {
			words = append(words, s.quoted())
			continue
		}
		w := s.atom()
		if w == "" {
			return words
		}
		words = append(words, w)
	}
}

// domain reads a domain or domain literal; MISSING_DOMAIN if empty.
func (s *scanner) domain() string {
	s.skipCFWS()
	var d string
	if s.peek() == '[' && !s.eof() {
		d = s.domainLiteral()
	} else {
		d = s.atom()
	}
	s.skipCFWS()
	if d == "" {
		return missingDomain
	}
	return d
}

// angleAddr reads "[route:] local@domain>" after the '<'.
func (s *scanner) angleAddr() imap.Address {
	s.skipCFWS()
	if s.peek() == '@' {
		// RFC 5322 obs-route: ignored (ENVELOPE route is always NIL).
		s.skipTo(':')
		s.consume(':')
	}
	local := strings.Join(s.words(), "")
	host := ""
	if s.consume('@') {
		host = s.domain()
	}
	s.skipTo('>')
	s.consume('>')
	if local == "" && host == "" {
		return imap.Address{Mailbox: missingMailbox, Host: missingDomain}
	}
	if local == "" {
		local = missingMailbox
	}
	if host == "" {
		host = missingDomain
	}
	return imap.Address{Mailbox: local, Host: host}
}
