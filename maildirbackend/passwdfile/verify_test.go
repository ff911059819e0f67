package passwdfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

func TestHash_roundTrip(t *testing.T) {
	tests := []struct {
		name   string
		scheme string
		prefix string
	}{
		{"bcrypt", "BLF-CRYPT", "{BLF-CRYPT}$2y$10$"},
		{"default", "", "{BLF-CRYPT}$2y$10$"},
		{"argon2id", "ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"},
		{"argon2i lower-case", "argon2i", "{ARGON2I}$argon2i$v=19$m=65536,t=3,p=1$"},
		{"sha512-crypt", "SHA512-CRYPT", "{SHA512-CRYPT}$6$"},
		{"sha256-crypt", "SHA256-CRYPT", "{SHA256-CRYPT}$5$"},
		{"ssha512", "SSHA512", "{SSHA512}"},
	}
	const pw = "Tr0ub4dor&3 with spaces, ünïcode and :colons:"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := passwdfile.Hash(tc.scheme, pw)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if !strings.HasPrefix(h, tc.prefix) {
				t.Fatalf("Hash = %q, want prefix %q", h, tc.prefix)
			}
			if strings.ContainsAny(h, ":\n") {
				t.Fatalf("Hash = %q contains a passwd-file separator", h)
			}
			f, err := passwdfile.Parse(strings.NewReader("user@example.org:" + h + ":::::\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if u, err := f.Verify("user@example.org", pw); err != nil || u.Name != "user@example.org" {
				t.Errorf("Verify(right) = %v, %v", u, err)
			}
			if _, err := f.Verify("user@example.org", pw[:len(pw)-1]); !errors.Is(err, passwdfile.ErrAuthFailed) {
				t.Errorf("Verify(wrong) = %v, want ErrAuthFailed", err)
			}
			h2, err := passwdfile.Hash(tc.scheme, pw)
			if err != nil || h2 == h {
				t.Errorf("second Hash = %q, %v; want a different salt", h2, err)
			}
		})
	}
}

func TestHash_errors(t *testing.T) {
	tests := []struct {
		name, scheme, password, want string
	}{
		{"unknown", "ROT13", "x", `unknown password scheme "ROT13"`},
		{"verify only", "MD5-CRYPT", "x", "MD5-CRYPT: hashing not supported"},
		{"plain not hashed", "PLAIN", "x", "PLAIN: hashing not supported"},
		{"bcrypt too long", "BLF-CRYPT", strings.Repeat("x", 73), "longer than 72 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := passwdfile.Hash(tc.scheme, tc.password)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Hash = %q, %v; want error containing %q", h, err, tc.want)
			}
		})
	}
}

func TestFile_Verify(t *testing.T) {
	const file = `alice:{PLAIN}alicepw
bob@example.org:$2y$05$DBZ4.X.GTRZXTO6H2sNWL..vsv0FdNnRu3N97/gaLdo1jHEJhU4sS:1:1::/home/bob
nopw:
carol:{SHA512-CRYPT}$6$saltsaltsalt12$mjSM2626qhMaW5u0XY9B.eUowxBTHFGFmKItlYUDfrGSpWAfFkyi1eX8eITV4yDhwtaw4HR80iGPmEyidcGRT/
`
	f, err := passwdfile.Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"plain", "alice", "alicepw", true},
		{"plain wrong", "alice", "alicepW", false},
		{"plain prefix", "alice", "alice", false},
		{"plain empty", "alice", "", false},
		{"bcrypt virtual user", "bob@example.org", "bcrypt pw", true},
		{"bcrypt name case", "Bob@Example.org", "bcrypt pw", true},
		{"bcrypt wrong", "bob@example.org", "bcrypt pw ", false},
		{"bcrypt user part only", "bob", "bcrypt pw", false},
		{"sha512-crypt", "carol", "correct horse", true},
		{"sha512-crypt wrong", "carol", "correct horse battery", false},
		{"unknown user", "mallory", "alicepw", false},
		{"empty user", "", "", false},
		{"empty password field", "nopw", "", false},
		{"empty password field any", "nopw", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := f.Verify(tc.user, tc.password)
			if tc.ok {
				if err != nil || u == nil || !strings.EqualFold(u.Name, tc.user) {
					t.Fatalf("Verify = %v, %v; want the user", u, err)
				}
				return
			}
			if u != nil || !errors.Is(err, passwdfile.ErrAuthFailed) {
				t.Fatalf("Verify = %v, %v; want nil, ErrAuthFailed", u, err)
			}
		})
	}
}
