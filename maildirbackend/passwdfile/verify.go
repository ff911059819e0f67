package passwdfile

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// ErrAuthFailed is returned by [File.Verify] and [DB.Verify] for an unknown
// user, a user without a password, an empty password, or a wrong password. Callers should tell
// the client only that authentication failed.
var ErrAuthFailed = errors.New("passwdfile: authentication failed")

// dummyHash is a bcrypt hash (cost 10, like new BLF-CRYPT hashes) of a random
// password nobody knows, compared for unknown users so that a failed login
// takes about as long whether the user exists or not.
const dummyHash = "$2b$10$/YkY2P3HeUJN00E1LaM1jepJG/NfhkE0jpAp/tyx4vwI4zi7Qq2gi"

// Verify checks name's password. It returns the user on success and
// [ErrAuthFailed] for an unknown user, a user with an empty password field, an
// empty password (always refused, whatever the hash) or a wrong password. For an unknown user it still spends a bcrypt comparison,
// so that timing does not reveal which users exist. Another error means the
// stored hash is unusable (a line that [Parse] reported as a problem is never
// reached, so this does not happen for files read by this package).
func (f *File) Verify(name, password string) (*User, error) {
	u, ok := f.Lookup(name)
	if !ok || u.Password == "" || password == "" {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return nil, ErrAuthFailed
	}
	switch err := verifyPassword(u.Password, password); {
	case err == nil:
		return u, nil
	case errors.Is(err, errMismatch):
		return nil, ErrAuthFailed
	default:
		return nil, fmt.Errorf("passwdfile: line %d: user %q: %w", u.Line, u.Name, err)
	}
}
