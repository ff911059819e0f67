package passwdfile

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2 limits for stored hashes. A stored m= is allocated on every login of
// that user, so a typo must not take the server's memory.
const (
	argon2MaxMemoryKiB = 1 << 20 // 1 GiB
	argon2MaxTime      = 64
	argon2MinKeyLen    = 4
	argon2MaxKeyLen    = 1024
)

// Parameters of new Argon2 hashes, as `doveadm pw -s ARGON2ID` writes them.
const (
	argon2HashMemoryKiB = 65536
	argon2HashTime      = 3
	argon2HashThreads   = 1
	argon2HashSaltLen   = 16
	argon2HashKeyLen    = 32
)

// argon2Params is a parsed PHC string
// `$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>`, salt and hash in standard
// base64 without padding.
type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2 parses a PHC string of the given variant ("argon2id" or
// "argon2i").
func parseArgon2(h, variant string) (*argon2Params, error) {
	parts := strings.Split(h, "$")
	// "", variant, "v=19", params, salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != variant {
		return nil, fmt.Errorf("want $%s$v=19$m=M,t=T,p=P$salt$hash", variant)
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("unsupported argon2 version %q (only v=19)", parts[2])
	}
	p := &argon2Params{}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return nil, fmt.Errorf("malformed argon2 parameter %q", kv)
		}
		seen[k] = true
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, fmt.Errorf("argon2 parallelism %d above 255", n)
			}
			p.threads = uint8(n)
		default:
			return nil, fmt.Errorf("unknown argon2 parameter %q", k)
		}
	}
	switch {
	case !seen["m"] || !seen["t"] || !seen["p"]:
		return nil, errors.New("argon2 parameters need m, t and p")
	case p.time < 1 || p.time > argon2MaxTime:
		return nil, fmt.Errorf("argon2 t=%d outside 1..%d", p.time, argon2MaxTime)
	case p.threads < 1:
		return nil, errors.New("argon2 p must be at least 1")
	case p.memory < 8*uint32(p.threads) || p.memory > argon2MaxMemoryKiB:
		return nil, fmt.Errorf("argon2 m=%d outside %d..%d", p.memory, 8*uint32(p.threads), argon2MaxMemoryKiB)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return nil, fmt.Errorf("argon2 salt: %w", err)
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return nil, fmt.Errorf("argon2 hash: %w", err)
	}
	if len(p.key) < argon2MinKeyLen || len(p.key) > argon2MaxKeyLen {
		return nil, fmt.Errorf("argon2 hash of %d bytes outside %d..%d", len(p.key), argon2MinKeyLen, argon2MaxKeyLen)
	}
	return p, nil
}

// derive computes the Argon2 key of password with p's parameters.
func (p *argon2Params) derive(variant string, password []byte) []byte {
	if variant == "argon2i" {
		return argon2.Key(password, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	}
	return argon2.IDKey(password, p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
}

func verifyArgon2(h, variant string, password []byte) error {
	p, err := parseArgon2(h, variant)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(p.derive(variant, password), p.key) != 1 {
		return errMismatch
	}
	return nil
}

// hashArgon2 makes a new PHC string with Dovecot's default parameters.
func hashArgon2(variant string, password []byte) (string, error) {
	p := &argon2Params{
		memory: argon2HashMemoryKiB, time: argon2HashTime, threads: argon2HashThreads,
		salt: make([]byte, argon2HashSaltLen), key: make([]byte, argon2HashKeyLen),
	}
	if _, err := rand.Read(p.salt); err != nil {
		return "", fmt.Errorf("argon2 salt: %w", err)
	}
	p.key = p.derive(variant, password)
	return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", variant, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(p.salt), base64.RawStdEncoding.EncodeToString(p.key)), nil
}
