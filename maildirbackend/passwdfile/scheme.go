package passwdfile

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// defaultScheme is the scheme of a password without a {SCHEME} prefix, as
// with Dovecot's passwd-file default_pass_scheme.
const defaultScheme = "CRYPT"

// errMismatch is returned internally when a password does not match its hash.
var errMismatch = errors.New("password mismatch")

// scheme is one password scheme: check validates a stored hash (at parse
// time, so that `maildir-imapd check` names bad lines), verify compares a
// password against a hash that check accepted.
type scheme struct {
	check  func(hash string) error
	verify func(hash string, password []byte) error
}

// lookupScheme returns the scheme called name (case-insensitive, as Dovecot's
// password_scheme_lookup), and whether it is known.
func lookupScheme(name string) (scheme, bool) {
	name = strings.ToUpper(name)
	switch name {
	case "PLAIN", "CLEAR", "CLEARTEXT":
		return scheme{check: checkPlain, verify: verifyPlain}, true
	case "CRYPT":
		return scheme{check: checkCrypt, verify: verifyCrypt}, true
	case "SHA512-CRYPT":
		return cryptScheme(shaCrypt512), true
	case "SHA256-CRYPT":
		return cryptScheme(shaCrypt256), true
	case "MD5-CRYPT", "MD5":
		// Dovecot: MD5 is an alias of MD5-CRYPT (PLAIN-MD5 is the bare digest).
		return cryptScheme(md5Crypt), true
	case "BLF-CRYPT":
		return cryptScheme(blfCrypt), true
	case "ARGON2ID":
		return cryptScheme(argon2IDCrypt), true
	case "ARGON2I":
		return cryptScheme(argon2ICrypt), true
	}
	if d, ok := lookupDigest(name); ok {
		return scheme{check: d.check, verify: d.verify}, true
	}
	return scheme{}, false
}

// cryptScheme makes an explicit crypt scheme such as {SHA512-CRYPT}, which
// accepts only hashes of its own family.
func cryptScheme(f *cryptFamily) scheme {
	return scheme{
		check: func(hash string) error {
			if !strings.HasPrefix(hash, f.prefix) && !f.hasAltPrefix(hash) {
				return fmt.Errorf("%s hash must start with %q", f.name, f.prefix)
			}
			return f.check(hash)
		},
		verify: f.verify,
	}
}

// splitScheme splits a password field into its scheme and hash. A field
// without a {SCHEME} prefix has the default scheme (CRYPT).
func splitScheme(field string) (name, hash string) {
	if strings.HasPrefix(field, "{") {
		if end := strings.IndexByte(field, '}'); end > 0 {
			return field[1:end], field[end+1:]
		}
	}
	return defaultScheme, field
}

// checkPassword validates a password field as read from the file.
func checkPassword(field string) error {
	if field == "" {
		return nil // no password: the user cannot log in, but is not an error
	}
	name, hash := splitScheme(field)
	s, ok := lookupScheme(name)
	if !ok {
		return fmt.Errorf("unknown password scheme %q", name)
	}
	if err := s.check(hash); err != nil {
		return fmt.Errorf("scheme %s: %w", strings.ToUpper(name), err)
	}
	return nil
}

// errEmptyPassword marks a line whose hash is that of the empty password
// (`user:{PLAIN}:...`): such a line would let anyone in without a password,
// so it is a problem, and its user cannot log in.
var errEmptyPassword = errors.New("the password is empty (such a user is refused; set a password or leave the field empty to disable the login)")

// acceptsEmpty reports whether a password field matches the empty password.
// Only schemes that are cheap to compute are tried (plaintext and bare
// digests); the crypt schemes would cost a hash computation per line at
// every load, and Verify refuses an empty password anyway.
func acceptsEmpty(field string) bool {
	if field == "" {
		return false
	}
	name, _ := splitScheme(field)
	switch strings.ToUpper(name) {
	case "PLAIN", "CLEAR", "CLEARTEXT":
	default:
		if _, ok := lookupDigest(strings.ToUpper(name)); !ok {
			return false
		}
	}
	return verifyPassword(field, "") == nil
}

// verifyPassword compares password with a password field. It returns nil on
// a match, errMismatch on a mismatch, and another error for a field that
// checkPassword would reject.
func verifyPassword(field, password string) (err error) {
	if field == "" {
		return errMismatch
	}
	name, hash := splitScheme(field)
	s, ok := lookupScheme(name)
	if !ok {
		return fmt.Errorf("unknown password scheme %q", name)
	}
	if err := s.check(hash); err != nil {
		return fmt.Errorf("scheme %s: %w", strings.ToUpper(name), err)
	}
	// The hash was checked above, so the crypt libraries see only well-formed
	// input; the recover is a last line of defence against a panic on content
	// read from disk.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scheme %s: verifying: %v", strings.ToUpper(name), r)
		}
	}()
	return s.verify(hash, []byte(password))
}

func checkPlain(hash string) error { return nil }

func verifyPlain(hash string, password []byte) error {
	// Compare digests so that the time does not depend on the lengths.
	a, b := sha256.Sum256([]byte(hash)), sha256.Sum256(password)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return errMismatch
	}
	return nil
}
