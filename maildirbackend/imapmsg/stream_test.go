package imapmsg_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// largeMixed returns a message of about n bytes with mixed LF and CRLF
// line endings, CR at the end of lines of 64 KiB reads, and long lines:
// partial sections seek through its checkpoints.
func largeMixed(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	b.WriteString("Subject: large\r\nContent-Type: text/plain\n\n")
	for b.Len() < n {
		line := strings.Repeat("x", rng.Intn(200))
		if rng.Intn(50) == 0 {
			line = strings.Repeat("long", 20000)
		}
		b.WriteString(line)
		if rng.Intn(2) == 0 {
			b.WriteString("\r\n")
		} else {
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

func TestWriteBodySection_partialSeeks(t *testing.T) {
	msg := largeMixed(3 << 20)
	var whole bytes.Buffer
	imapmsg.WriteCRLF(&whole, bytes.NewReader(msg))
	p := imapmsg.ParseBytes(msg)
	if p.Size != int64(whole.Len()) {
		t.Fatalf("Size %d, CRLF form %d", p.Size, whole.Len())
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		off, n := rng.Int63n(int64(whole.Len())+10), rng.Int63n(300000)
		for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierText} {
			item := &imap.FetchItemBodySection{Specifier: spec, Partial: &imap.SectionPartial{Offset: off, Size: n}}
			var got bytes.Buffer
			var size int64 = -1
			err := p.WriteBodySection(bytes.NewReader(msg), item, func(s int64) io.Writer { size = s; return &got })
			want := whole.Bytes()
			if spec == imap.PartSpecifierText {
				want = want[p.HeaderSize:]
			}
			want = want[min(off, int64(len(want))):]
			want = want[:min(n, int64(len(want)))]
			if err != nil || size != int64(got.Len()) || !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s<%d.%d>: %d bytes announced, %d written, want %d (%v)", spec, off, n, size, got.Len(), len(want), err)
			}
		}
	}
}

func TestWriteBinarySection_streams(t *testing.T) {
	payload := make([]byte, 1<<20+17)
	rand.New(rand.NewSource(3)).Read(payload)
	var qp strings.Builder
	qp.WriteString("caf=C3=A9 " + strings.Repeat("a", 100000) + "=3D" + strings.Repeat(" ", 70000) + "=\nend  \n")
	qp.WriteString(strings.Repeat("=41", 30000) + "\n")
	msg := "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n" +
		wrap(base64.StdEncoding.EncodeToString(payload)) + "\n--b\nContent-Transfer-Encoding: quoted-printable\n\n" +
		qp.String() + "--b--\n"
	wantQP := "café " + strings.Repeat("a", 100000) + "=" + strings.Repeat(" ", 70000) + "end\r\n" + strings.Repeat("A", 30000) // the last line ending belongs to the delimiter
	for _, tt := range []struct {
		part []int
		want []byte
	}{{[]int{1}, payload}, {[]int{2}, []byte(wantQP)}} {
		for _, partial := range []*imap.SectionPartial{nil, {Offset: 99990, Size: 80000}} {
			t.Run(fmt.Sprint(tt.part, partial), func(t *testing.T) {
				got, err := imapmsg.Binary(strings.NewReader(msg), &imap.FetchItemBinarySection{Part: tt.part, Partial: partial})
				want := tt.want
				if partial != nil {
					want = want[partial.Offset:min(int64(len(want)), partial.Offset+partial.Size)]
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want %d (%v)", len(got), len(want), err)
				}
				size, err := imapmsg.BinarySize(strings.NewReader(msg), tt.part)
				if err != nil || size != int64(len(tt.want)) {
					t.Fatalf("BinarySize %d, want %d (%v)", size, len(tt.want), err)
				}
			})
		}
	}
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// TestMatchText_acrossBlocks finds words that straddle the 64 KiB blocks
// of the streaming search, in every transfer encoding.
func TestMatchText_acrossBlocks(t *testing.T) {
	for _, enc := range []string{"7bit", "base64", "quoted-printable"} {
		for _, at := range []int{65536 - 3, 2*65536 - 1, 200000} {
			text := strings.Repeat("z", at) + "Needle-In-Haystack" + strings.Repeat("z", 1000)
			body := text
			switch enc {
			case "base64":
				body = wrap(base64.StdEncoding.EncodeToString([]byte(text)))
			case "quoted-printable":
				body = strings.ReplaceAll(wrap(text), "\n", "=\n")
			}
			msg := "Content-Type: text/plain\nContent-Transfer-Encoding: " + enc + "\n\n" + body + "\n"
			for _, needle := range []string{"needle-in-haystack", "NEEDLE-IN-HAYSTACKZ", "haystackq"} {
				got, err := imapmsg.MatchBody(strings.NewReader(msg), needle)
				if want := needle != "haystackq"; err != nil || got != want {
					t.Errorf("%s at %d: MatchBody(%q) = %v, want %v (%v)", enc, at, needle, got, want, err)
				}
			}
		}
	}
}
