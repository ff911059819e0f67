package passwdfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// TestParse_emptyPassword: a hash of the empty password is a problem of its
// line (check reports it, DB logs it at load) and its user cannot log in.
func TestParse_emptyPassword(t *testing.T) {
	tests := []struct {
		name  string
		field string
	}{
		{"plain", "{PLAIN}"},
		{"clear lower-case", "{clear}"},
		{"sha256 of empty", "{SHA256}47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"sha1 hex of empty", "{SHA1.HEX}da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := passwdfile.Parse(strings.NewReader("eve:" + tc.field + ":::::\nalice:{PLAIN}pw:::::\n"))
			if err == nil {
				t.Fatal("Parse accepted a hash of the empty password")
			}
			p := f.Problems()
			if len(p) != 1 || !strings.Contains(p[0].Error(), "password is empty") {
				t.Fatalf("problems = %v, want one about the empty password", p)
			}
			if _, err := f.Verify("eve", ""); !errors.Is(err, passwdfile.ErrAuthFailed) {
				t.Errorf("Verify(eve, \"\") = %v, want ErrAuthFailed", err)
			}
		})
	}
}

// TestVerify_emptyPasswordRefused: the empty password never logs in, even
// when a hash that Parse cannot see through (a crypt scheme) matches it.
func TestVerify_emptyPasswordRefused(t *testing.T) {
	h, err := passwdfile.Hash("SHA512-CRYPT", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := passwdfile.Parse(strings.NewReader("eve:" + h + ":::::\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if _, err := f.Verify("eve", ""); !errors.Is(err, passwdfile.ErrAuthFailed) {
		t.Fatalf("Verify(eve, \"\") = %v, want ErrAuthFailed", err)
	}
}
