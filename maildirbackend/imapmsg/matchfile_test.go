package imapmsg_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestMatchMessage_agreesWithMatchAll: the one-read matcher of an
// unparsed message answers every BODY and TEXT key as MatchAll does over
// the parsed message (which reads the file twice), for the Dovecot
// fixtures, generated messages (charsets, QP, base64, nesting) and
// messages above the 256 KiB read buffer.
func TestMatchMessage_agreesWithMatchAll(t *testing.T) {
	var msgs []string
	for _, c := range loadFixture(t) {
		msgs = append(msgs, string(c.data))
	}
	msgs = append(msgs, nestedMsg, largeTextMsg(), largeAttachmentMsg())
	rng := rand.New(rand.NewPCG(21, 12))
	for i := range 150 {
		msgs = append(msgs, maildirtest.SearchMessage(rng, i))
	}
	fixed := []string{"zanzibar", "straße", "café", "inner", "nested", "needle-at-end", "after-attachment", "lorem", "subject: gr"}
	for i, msg := range msgs {
		b := []byte(msg)
		p := imapmsg.ParseBytes(b)
		for j := range 8 {
			var body, text []string
			if j == 0 {
				body, text = fixed, fixed
			} else {
				body, text = contentKeys(maildirtest.SearchCriteria(rng))
			}
			wantB, wantT, err := p.MatchAll(bytes.NewReader(b), body, text)
			if err != nil {
				t.Fatal(err)
			}
			for _, parsed := range []*imapmsg.Parsed{nil, p} {
				gotB, gotT, err := imapmsg.MatchMessage(bytes.NewReader(b), parsed, imapmsg.Keys{Body: body, Text: text})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(gotB, wantB) || !slices.Equal(gotT, wantT) {
					t.Errorf("message %d (%d bytes), parsed %v, BODY %q TEXT %q: got %v %v, want %v %v",
						i, len(b), parsed != nil, body, text, gotB, gotT, wantB, wantT)
				}
			}
		}
	}
}

// TestMatchMessage_stopsWhenDecided: with Decided, the read stops at the
// hit that decides the program (OR BODY alpha BODY omega: the first), so
// a later key is not looked for.
func TestMatchMessage_stopsWhenDecided(t *testing.T) {
	for _, msg := range []string{
		"Subject: x\n\nalpha\n" + strings.Repeat("filler line\n", 100) + "omega\n",
		largeTextMsg() + "alpha\n", // alpha after the 256 KiB buffer, omega never
	} {
		b := []byte(msg)
		keys := []string{"alpha", "omega"}
		want := []bool{true, strings.Contains(msg, "omega")}
		all, _, err := imapmsg.MatchMessage(bytes.NewReader(b), nil, imapmsg.Keys{Body: keys})
		if err != nil || !slices.Equal(all, want) {
			t.Fatalf("without Decided: %v, %v; want %v", all, err, want)
		}
		calls := 0
		or := func(bh, _ []bool) bool { calls++; return bh[0] || bh[1] }
		got, _, err := imapmsg.MatchMessage(bytes.NewReader(b), nil, imapmsg.Keys{Body: keys, Decided: or})
		if err != nil {
			t.Fatal(err)
		}
		if !got[0] || got[1] || calls != 1 {
			t.Errorf("with Decided: hits %v after %d calls; want alpha only, after one call", got, calls)
		}
	}
}

// contentKeys returns the BODY and TEXT values of c, at any depth.
func contentKeys(c *imap.SearchCriteria) (body, text []string) {
	body, text = append(body, c.Body...), append(text, c.Text...)
	for i := range c.Not {
		b, t := contentKeys(&c.Not[i])
		body, text = append(body, b...), append(text, t...)
	}
	for i := range c.Or {
		for _, sub := range c.Or[i] {
			b, t := contentKeys(&sub)
			body, text = append(body, b...), append(text, t...)
		}
	}
	return body, text
}

// largeTextMsg is a 300 KiB text/plain message (quoted-printable) whose
// last line holds needle-at-end.
func largeTextMsg() string {
	var sb strings.Builder
	sb.WriteString("Subject: large\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n")
	for i := 0; sb.Len() < 300<<10; i++ {
		fmt.Fprintf(&sb, "lorem ipsum caf=C3=A9 line %d\n", i)
	}
	sb.WriteString("needle-at-end\n")
	return sb.String()
}

// largeAttachmentMsg is a multipart message whose 400 KiB base64
// attachment comes before a text part saying after-attachment.
func largeAttachmentMsg() string {
	raw := bytes.Repeat([]byte("binary\x00\xff"), 400<<10/8)
	enc := base64.StdEncoding.EncodeToString(raw)
	var sb strings.Builder
	sb.WriteString("Subject: attachment\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	sb.WriteString(enc + "\n--b\nContent-Type: text/plain\n\nafter-attachment\n--b--\n")
	return sb.String()
}
