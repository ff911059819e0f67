package passwdfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/GehirnInc/crypt/sha256_crypt"
	"github.com/GehirnInc/crypt/sha512_crypt"
	"golang.org/x/crypto/bcrypt"
)

// DefaultHashScheme is the scheme [Hash] uses when given "". BLF-CRYPT is
// understood by every Dovecot and crypt(3) of the last decade and needs no
// memory per login, unlike ARGON2ID's 64 MiB.
const DefaultHashScheme = "BLF-CRYPT"

// BcryptCost is the cost of new BLF-CRYPT hashes, as doveadm pw uses.
const BcryptCost = 10

// HashSchemes returns the schemes [Hash] accepts, in order of preference
// (a new slice each call).
func HashSchemes() []string {
	return []string{"BLF-CRYPT", "ARGON2ID", "ARGON2I", "SHA512-CRYPT", "SHA256-CRYPT", "SSHA512"}
}

// Hash hashes password with a random salt in the named scheme
// (case-insensitive; "" means [DefaultHashScheme]) and returns the password
// field for a passwd-file line, with its {SCHEME} prefix, as `doveadm pw`
// writes it: `{BLF-CRYPT}$2y$10$...`, `{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$...`,
// `{SHA512-CRYPT}$6$...` or `{SSHA512}...`. The result verifies with
// [File.Verify]. Schemes outside [HashSchemes] are errors naming the scheme,
// as are passwords over 72 bytes for BLF-CRYPT, which bcrypt would truncate.
func Hash(scheme, password string) (string, error) {
	name := strings.ToUpper(scheme)
	if name == "" {
		name = DefaultHashScheme
	}
	var (
		h   string
		err error
	)
	switch name {
	case "BLF-CRYPT":
		if len(password) > 72 {
			return "", errors.New("passwdfile: BLF-CRYPT: password longer than 72 bytes")
		}
		var b []byte
		b, err = bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
		// Dovecot and htpasswd write $2y$; x/crypto writes $2a$, which for
		// its 8-bit-clean implementation is the same algorithm.
		if err == nil && len(b) > 4 {
			h = "$2y$" + string(b[4:])
		}
	case "ARGON2ID":
		h, err = hashArgon2("argon2id", []byte(password))
	case "ARGON2I":
		h, err = hashArgon2("argon2i", []byte(password))
	case "SHA512-CRYPT":
		h, err = sha512_crypt.New().Generate([]byte(password), nil)
	case "SHA256-CRYPT":
		h, err = sha256_crypt.New().Generate([]byte(password), nil)
	case "SSHA512":
		d, _ := lookupDigest(name)
		h, err = d.hashSalted([]byte(password))
	default:
		if _, ok := lookupScheme(name); ok {
			return "", fmt.Errorf("passwdfile: scheme %s: hashing not supported (verification only; use one of %s)",
				name, strings.Join(HashSchemes(), ", "))
		}
		return "", fmt.Errorf("passwdfile: unknown password scheme %q", scheme)
	}
	if err != nil {
		return "", fmt.Errorf("passwdfile: %s: %w", name, err)
	}
	return "{" + name + "}" + h, nil
}
