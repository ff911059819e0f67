package passwdfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/GehirnInc/crypt"
	"github.com/GehirnInc/crypt/md5_crypt"
	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/bcrypt"
)

// cryptFamily is one crypt(3)-style hash format, recognised by its prefix.
type cryptFamily struct {
	name   string   // Dovecot scheme name
	prefix string   // canonical prefix, e.g. "$6$"
	alt    []string // other accepted prefixes
	check  func(hash string) error
	verify func(hash string, password []byte) error
}

func (f *cryptFamily) hasAltPrefix(hash string) bool {
	for _, p := range f.alt {
		if strings.HasPrefix(hash, p) {
			return true
		}
	}
	return false
}

// maxShaCryptRounds bounds rounds=N in SHA-crypt hashes: a typo of a few
// digits must not make every login of that user take minutes.
const maxShaCryptRounds = 10_000_000

var (
	shaCrypt512 = &cryptFamily{
		name: "SHA512-CRYPT", prefix: sha512_crypt.MagicPrefix,
		check:  func(h string) error { return checkShaCrypt(h, sha512_crypt.MagicPrefix, 86) },
		verify: func(h string, pw []byte) error { return verifyGehirn(sha512_crypt.New(), h, pw) },
	}
	shaCrypt256 = &cryptFamily{
		name: "SHA256-CRYPT", prefix: sha256_crypt.MagicPrefix,
		check:  func(h string) error { return checkShaCrypt(h, sha256_crypt.MagicPrefix, 43) },
		verify: func(h string, pw []byte) error { return verifyGehirn(sha256_crypt.New(), h, pw) },
	}
	md5Crypt = &cryptFamily{
		name: "MD5-CRYPT", prefix: md5_crypt.MagicPrefix,
		check:  checkMD5Crypt,
		verify: func(h string, pw []byte) error { return verifyGehirn(md5_crypt.New(), h, pw) },
	}
	blfCrypt = &cryptFamily{
		name: "BLF-CRYPT", prefix: "$2y$", alt: []string{"$2b$", "$2a$"},
		check:  checkBcrypt,
		verify: verifyBcrypt,
	}
	argon2IDCrypt = &cryptFamily{
		name: "ARGON2ID", prefix: "$argon2id$",
		check:  func(h string) error { _, err := parseArgon2(h, "argon2id"); return err },
		verify: func(h string, pw []byte) error { return verifyArgon2(h, "argon2id", pw) },
	}
	argon2ICrypt = &cryptFamily{
		name: "ARGON2I", prefix: "$argon2i$",
		check:  func(h string) error { _, err := parseArgon2(h, "argon2i"); return err },
		verify: func(h string, pw []byte) error { return verifyArgon2(h, "argon2i", pw) },
	}
	cryptFamilies = []*cryptFamily{shaCrypt512, shaCrypt256, md5Crypt, blfCrypt, argon2IDCrypt, argon2ICrypt}
)

// detectCrypt returns the crypt family of hash by its prefix, as libc's
// crypt() does for Dovecot's CRYPT scheme.
func detectCrypt(hash string) (*cryptFamily, error) {
	for _, f := range cryptFamilies {
		if strings.HasPrefix(hash, f.prefix) || f.hasAltPrefix(hash) {
			return f, nil
		}
	}
	switch {
	case hash == "":
		return nil, errors.New("empty hash")
	case len(hash) == 13 && isCryptSalt(hash):
		return nil, errors.New("DES-CRYPT hashes are not supported (weak; rehash the password)")
	case strings.HasPrefix(hash, "$2x$"):
		return nil, errors.New("bcrypt $2x$ hashes are not supported (buggy variant; rehash the password)")
	case strings.HasPrefix(hash, "$"):
		prefix := hash
		if i := strings.IndexByte(hash[1:], '$'); i >= 0 {
			prefix = hash[:i+2]
		}
		return nil, fmt.Errorf("unsupported crypt prefix %q", prefix)
	}
	return nil, errors.New("not a crypt hash (plaintext passwords need a {PLAIN} prefix)")
}

func checkCrypt(hash string) error {
	f, err := detectCrypt(hash)
	if err != nil {
		return err
	}
	return f.check(hash)
}

func verifyCrypt(hash string, password []byte) error {
	f, err := detectCrypt(hash)
	if err != nil {
		return err
	}
	return f.verify(hash, password)
}

// isCryptSalt reports whether s uses only crypt's base64 alphabet.
func isCryptSalt(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// checkShaCrypt validates `$N$[rounds=R$]salt$hash` (Drepper's SHA-crypt).
func checkShaCrypt(h, prefix string, hashLen int) error {
	rest := strings.TrimPrefix(h, prefix)
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		n, after, found := strings.Cut(r, "$")
		if !found {
			return errors.New("malformed rounds")
		}
		rounds, err := strconv.Atoi(n)
		if err != nil || rounds < 1 {
			return fmt.Errorf("malformed rounds %q", n)
		}
		if rounds > maxShaCryptRounds {
			return fmt.Errorf("rounds %d above %d", rounds, maxShaCryptRounds)
		}
		rest = after
	}
	salt, sum, found := strings.Cut(rest, "$")
	switch {
	case !found:
		return errors.New("missing '$' between salt and hash")
	case len(salt) > 16:
		return fmt.Errorf("salt longer than 16 characters")
	case len(sum) != hashLen || !isCryptSalt(sum):
		return fmt.Errorf("hash part must be %d characters of [./0-9A-Za-z]", hashLen)
	}
	return nil
}

// checkMD5Crypt validates `$1$salt$hash` (Poul-Henning Kamp's MD5-crypt).
func checkMD5Crypt(h string) error {
	salt, sum, found := strings.Cut(strings.TrimPrefix(h, md5_crypt.MagicPrefix), "$")
	switch {
	case !found:
		return errors.New("missing '$' between salt and hash")
	case len(salt) > 8:
		return errors.New("salt longer than 8 characters")
	case len(sum) != 22 || !isCryptSalt(sum):
		return errors.New("hash part must be 22 characters of [./0-9A-Za-z]")
	}
	return nil
}

// verifyGehirn verifies with a GehirnInc/crypt crypter, whose Verify
// recomputes the hash and compares in constant time.
func verifyGehirn(c crypt.Crypter, hash string, password []byte) error {
	err := c.Verify(hash, password)
	if errors.Is(err, crypt.ErrKeyMismatch) {
		return errMismatch
	}
	return err
}

// maxBcryptCost bounds the cost of stored bcrypt hashes (2^20 rounds take
// about a minute).
const maxBcryptCost = 20

// checkBcrypt validates `$2y$NN$` + 22 salt + 31 hash characters.
func checkBcrypt(h string) error {
	if len(h) != 60 || h[3] != '$' || h[6] != '$' {
		return errors.New("bcrypt hash must be 60 characters: $2y$NN$ then 53 of [./0-9A-Za-z]")
	}
	cost, err := strconv.Atoi(h[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > maxBcryptCost {
		return fmt.Errorf("bcrypt cost %q outside %d..%d", h[4:6], bcrypt.MinCost, maxBcryptCost)
	}
	if !isCryptSalt(h[7:]) {
		return errors.New("bcrypt salt and hash must be of [./0-9A-Za-z]")
	}
	return nil
}

// verifyBcrypt compares with x/crypto/bcrypt. $2y$ (PHP, htpasswd, doveadm)
// is the same algorithm as $2b$: it is rewritten to $2b$ before comparing.
func verifyBcrypt(h string, password []byte) error {
	if strings.HasPrefix(h, "$2y$") {
		h = "$2b$" + h[4:]
	}
	err := bcrypt.CompareHashAndPassword([]byte(h), password)
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return errMismatch
	}
	return err
}
