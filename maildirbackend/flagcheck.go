package maildirbackend

import (
	"github.com/emersion/go-imap/v2"
)

// maxKeywordLen is the longest keyword, in bytes, that a client may create:
// Dovecot's mail_max_keyword_length default. A longer keyword already in
// dovecot-keywords (written by another program) stays usable.
const maxKeywordLen = 50

// checkClientFlags refuses the system flags a client cannot store in STORE
// and APPEND: \Recent (RFC 3501 section 2.3.2: the client cannot alter it),
// \* and any other unknown system flag. Dovecot
// (src/imap/imap-commands-util.c, client_parse_mail_flags) answers
// "BAD Invalid system flag \X" for each of them.
func checkClientFlags(flags []imap.Flag) error {
	for _, fl := range flags {
		if len(fl) > 0 && fl[0] == '\\' && stdFlag(fl) == 0 {
			return &imap.Error{
				Type: imap.StatusResponseTypeBad,
				Code: imap.ResponseCodeClientBug,
				Text: "Invalid system flag " + string(fl),
			}
		}
	}
	return nil
}

// checkNewKeywordsLocked refuses keywords the folder does not know yet and
// cannot create: longer than maxKeywordLen or not an IMAP atom. Keywords
// already in the folder's table are not checked again, as in Dovecot
// (mailbox_keyword_is_valid).
func (f *folder) checkNewKeywordsLocked(names []string) error {
	for _, name := range names {
		if _, ok := f.keywords.Letter(name); ok {
			continue
		}
		if err := checkKeyword(name); err != nil {
			return err
		}
	}
	return nil
}

// checkKeyword reports why name cannot be a new keyword, or nil.
func checkKeyword(name string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 0x80 {
			return errKeyword8bit
		} else if !isAtomChar(c) {
			return errKeywordChars
		}
	}
	if name == "" {
		return errKeywordChars
	}
	if len(name) > maxKeywordLen {
		return errKeywordTooLong
	}
	return nil
}

// isAtomChar reports whether c is an ATOM-CHAR of RFC 3501 section 9:
// any CHAR except atom-specials ("(" ")" "{" SP CTL list-wildcards
// quoted-specials resp-specials).
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return c > 0x20 && c < 0x7f
}

// clientKeywordMaskLocked is keywordMaskLocked for keywords a client named
// in STORE or APPEND: new ones are checked first.
func (f *folder) clientKeywordMaskLocked(names []string, add bool) (mask uint32, added bool, err error) {
	if err := f.checkNewKeywordsLocked(names); err != nil {
		return 0, false, err
	}
	return f.keywordMaskLocked(names, add)
}
