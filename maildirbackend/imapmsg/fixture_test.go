package imapmsg_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"golang.org/x/tools/txtar"
)

// fixtureCase is one message of testdata/dovecot.txtar with what Dovecot
// 2.3.19.1 answered for it (see testdata/gen/gen.py).
type fixtureCase struct {
	File             string `json:"file"`
	EnvelopeRaw      string `json:"envelope_raw"`
	BodyStructureRaw string `json:"bodystructure_raw"`
	BodyRaw          string `json:"body_raw"`
	RFC822Size       int64  `json:"rfc822_size"`
	BodySHA256       string `json:"body_sha256"`
	data             []byte
}

func loadFixture(t testing.TB) []fixtureCase {
	t.Helper()
	ar, err := txtar.ParseFile("testdata/dovecot.txtar")
	if err != nil {
		t.Fatalf("loading fixture: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range ar.Files {
		files[f.Name] = f.Data
	}
	var cases []fixtureCase
	if err := json.Unmarshal(files["expected.json"], &cases); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	for i := range cases {
		data, ok := files[cases[i].File]
		if !ok {
			t.Fatalf("fixture: %s missing", cases[i].File)
		}
		cases[i].data = data
	}
	if len(cases) < 20 {
		t.Fatalf("fixture has only %d messages", len(cases))
	}
	return cases
}

var addressSPRE = regexp.MustCompile(`([^)]\)) (\([^(])`)

// addressSP removes the SP that go-imap writes between two addresses of one
// address list in an ENVELOPE.
func addressSP(env string) string { return addressSPRE.ReplaceAllString(env, "$1$2") }

// TestFetch_dovecotFixture fetches every fixture message through a real
// imapserver and compares the wire form with Dovecot's.
func TestFetch_dovecotFixture(t *testing.T) {
	cases := loadFixture(t)
	msgs := make([][]byte, len(cases))
	for i, c := range cases {
		msgs[i] = c.data
	}
	cl := startServer(t, msgs)
	for i, c := range cases {
		t.Run(c.File, func(t *testing.T) {
			lines := cl.cmd(fmt.Sprintf("UID FETCH %d (ENVELOPE BODY BODYSTRUCTURE RFC822.SIZE BODY.PEEK[])", i+1))
			if len(lines) != 1 {
				t.Fatalf("got %d untagged responses: %q", len(lines), lines)
			}
			line := lines[0]
			check := func(item, want string, normalize ...func(string) string) {
				t.Helper()
				got, ok := fetchItem(line, item)
				if !ok {
					t.Fatalf("%s missing in %q", item, line)
				}
				for _, f := range normalize {
					got = f(got)
				}
				if got != want {
					t.Errorf("%s\n got: %s\nwant: %s", item, got, want)
				}
			}
			// go-imap's encoder (imapserver/fetch.go writeAddressList, via
			// enc.List) puts a SP between the addresses of one list; RFC 3501's
			// env-to = "(" 1*address ")" and Dovecot do not. Nothing in the
			// envelope types can change that, so undo it before comparing.
			check("ENVELOPE", c.EnvelopeRaw, addressSP)
			check("BODYSTRUCTURE", c.BodyStructureRaw)
			check("BODY", c.BodyRaw)
			check("RFC822.SIZE", strconv.FormatInt(c.RFC822Size, 10))
			body, ok := fetchItem(line, "BODY[]")
			if !ok {
				t.Fatalf("BODY[] missing in %q", line)
			}
			sum := sha256.Sum256([]byte(body))
			if got := hex.EncodeToString(sum[:]); got != c.BodySHA256 {
				t.Errorf("BODY[] sha256 = %s, want %s", got, c.BodySHA256)
			}
		})
	}
}
