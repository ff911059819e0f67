package passwdfile

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// digestScheme is a bare or salted message digest scheme: {SHA512} is
// base64(SHA512(password)), {SSHA512} is base64(SHA512(password+salt)+salt).
// A `.HEX` suffix (e.g. {SHA512.HEX}) selects hex; `.B64`/`.BASE64` is the
// default. Dovecot (src/auth/password-scheme.c, password_decode): a base64
// scheme whose value has exactly the hex length of the digest is read as hex.
type digestScheme struct {
	newHash func() hash.Hash
	size    int
	salted  bool
	hex     bool
}

// lookupDigest returns the digest scheme of an upper-case scheme name.
func lookupDigest(name string) (*digestScheme, bool) {
	base, enc, _ := strings.Cut(name, ".")
	d := &digestScheme{}
	switch enc {
	case "":
	case "HEX":
		d.hex = true
	case "B64", "BASE64":
	default:
		return nil, false
	}
	switch base {
	case "SHA", "SHA1":
		d.newHash, d.size = sha1.New, sha1.Size
	case "SSHA":
		d.newHash, d.size, d.salted = sha1.New, sha1.Size, true
	case "SHA256":
		d.newHash, d.size = sha256.New, sha256.Size
	case "SSHA256":
		d.newHash, d.size, d.salted = sha256.New, sha256.Size, true
	case "SHA512":
		d.newHash, d.size = sha512.New, sha512.Size
	case "SSHA512":
		d.newHash, d.size, d.salted = sha512.New, sha512.Size, true
	default:
		return nil, false
	}
	return d, true
}

// decode returns the digest and salt stored in h.
func (d *digestScheme) decode(h string) (sum, salt []byte, err error) {
	var raw []byte
	if d.hex || (!d.salted && len(h) == 2*d.size) {
		raw, err = hex.DecodeString(h)
	} else {
		raw, err = base64.StdEncoding.DecodeString(h)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decoding hash: %w", err)
	}
	switch {
	case !d.salted && len(raw) != d.size:
		return nil, nil, fmt.Errorf("digest of %d bytes, want %d", len(raw), d.size)
	case d.salted && len(raw) <= d.size:
		return nil, nil, errors.New("salted digest without salt")
	}
	return raw[:d.size], raw[d.size:], nil
}

func (d *digestScheme) check(h string) error {
	_, _, err := d.decode(h)
	return err
}

func (d *digestScheme) sum(password, salt []byte) []byte {
	w := d.newHash()
	w.Write(password)
	w.Write(salt)
	return w.Sum(nil)
}

func (d *digestScheme) verify(h string, password []byte) error {
	sum, salt, err := d.decode(h)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(d.sum(password, salt), sum) != 1 {
		return errMismatch
	}
	return nil
}

// hashSalted makes a new salted digest with an 8-byte salt, as doveadm pw.
func (d *digestScheme) hashSalted(password []byte) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	raw := append(d.sum(password, salt), salt...)
	if d.hex {
		return hex.EncodeToString(raw), nil
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}
