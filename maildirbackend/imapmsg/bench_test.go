package imapmsg_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// typicalMultipart is an ~8 KB multipart/alternative message with a base64
// attachment, the shape of an ordinary mail with a small PDF.
func typicalMultipart() []byte {
	var sb strings.Builder
	sb.WriteString("Date: Tue, 12 Mar 2024 09:15:00 +0100\nFrom: Carol Client <carol@clients.example.com>\n" +
		"To: Alice Example <alice@example.org>, \"Doe, John\" <john@example.com>\nCc: team@example.org\n" +
		"Subject: =?UTF-8?Q?Quarterly_report_M=C3=A4rz?=\nMessage-ID: <bench@example.com>\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n" +
		"Content-Type: multipart/alternative; boundary=\"b2\"\n\n--b2\nContent-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: quoted-printable\n\n")
	for i := 0; i < 25; i++ {
		sb.WriteString("This is line of the quarterly report text, with some words =C3=A4 in it.\n")
	}
	sb.WriteString("--b2\nContent-Type: text/html; charset=utf-8\n\n")
	for i := 0; i < 25; i++ {
		sb.WriteString("<p>This is line of the quarterly report text, with some words.</p>\n")
	}
	sb.WriteString("--b2--\n--b1\nContent-Type: application/pdf; name=\"r.pdf\"\nContent-Transfer-Encoding: base64\n" +
		"Content-Disposition: attachment; filename=\"r.pdf\"\n\n")
	for i := 0; i < 60; i++ {
		sb.WriteString("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\n")
	}
	sb.WriteString("--b1--\n")
	return []byte(sb.String())
}

func BenchmarkParse(b *testing.B) {
	msg := typicalMultipart()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.Parse(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCRLFSize(b *testing.B) {
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 1<<14) // 1 MiB
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.CRLFSize(bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCRLF(b *testing.B) {
	msg := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 1<<14)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.WriteCRLF(io.Discard, bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchBody(b *testing.B) {
	msg := typicalMultipart()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := imapmsg.MatchBody(bytes.NewReader(msg), "zanzibar"); err != nil {
			b.Fatal(err)
		}
	}
}
