package imapd

import (
	"errors"
	"io"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// argParsers are the argument parsers of FETCH, STORE, SEARCH, SORT and
// THREAD, by command name.
var argParsers = map[string]func(p *parser) error{
	"FETCH":     func(p *parser) error { _, err := p.fetchArgs(NumKindSeq); return err },
	"UID FETCH": func(p *parser) error { _, err := p.fetchArgs(NumKindUID); return err },
	"STORE":     func(p *parser) error { _, _, _, err := p.storeArgs(NumKindSeq); return err },
	"SEARCH":    func(p *parser) error { _, err := p.searchArgs(); return err },
	"SORT":      func(p *parser) error { _, err := p.sortArgs(); return err },
	"THREAD": func(p *parser) error {
		_, _, err := p.threadArgs([]imap.ThreadAlgorithm{imap.ThreadReferences, imap.ThreadOrderedSubject})
		return err
	},
}

// expectedParseError reports whether err is one a handler may return while
// reading its arguments: a BAD, a NO (charset, limits, literal too big),
// or the end of the input.
func expectedParseError(err error) bool {
	var se *syntaxError
	var ie *imap.Error
	var tb *tooBigError
	return errors.As(err, &se) || errors.As(err, &ie) || errors.As(err, &tb) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errLineTooLong)
}

func FuzzCommandArgs(f *testing.F) {
	for _, s := range []string{
		" 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From {2}\r\nTo)]<0.10> BINARY[1.2] RFC822.HEADER)\r\n",
		" $ FULL\r\n",
		" 1,3:5 +FLAGS.SILENT (\\Seen $Junk)\r\n",
		" RETURN (MIN SAVE) CHARSET UTF-8 OR (FROM \"a\" SINCE 1-Jan-2024) NOT UID 1:* 2,4 $\r\n",
		" RETURN (ALL) (REVERSE DATE SUBJECT) UTF-8 HEADER X-A {1+}\r\nb LARGER 10\r\n",
		" REFERENCES US-ASCII NOT NOT (SEEN)\r\n",
		" 1 BODY[1.2.MIME]<5.6>\r\n",
		" (ARRIVAL) UTF-8 ON 1-Feb-2024 KEYWORD x\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, parse := range argParsers {
			p := testParser(t, s)
			err := parse(p)
			if err == nil && !p.lineEnd {
				t.Errorf("%s %q: parsed without reaching the end of the line", name, s)
			}
			if err != nil && !expectedParseError(err) {
				t.Errorf("%s %q: unexpected error %T %v", name, s, err, err)
			}
		}
	})
}
