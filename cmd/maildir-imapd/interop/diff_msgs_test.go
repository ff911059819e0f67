package interop

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// messagePool returns n messages (LF line ends, as stored on disk) of
// varied structure, chosen by r: plain text, encoded words, comments and
// groups in addresses, 8-bit text, multipart with attachments, nested
// message/rfc822, missing headers, and one with bare CR and NUL bytes.
func messagePool(r *rand.Rand, n int) [][]byte {
	froms := []string{
		`Bob <bob@example.org>`,
		`"Bob (the builder)" <bob@example.org> (comment)`,
		`bob@example.org (Bob Builder)`,
		`=?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>`,
		`undisclosed-recipients:;`,
		`Team: alice@example.test, carol@example.net;`,
	}
	subjects := []string{"hello", "weekly report", "=?UTF-8?B?R3LDvMOfZQ==?=", "Re: hello again", "a very long subject line that goes on and on\n and is folded", ""}
	out := make([][]byte, n)
	for i := range out {
		var b strings.Builder
		if r.IntN(8) > 0 {
			fmt.Fprintf(&b, "From: %s\n", froms[r.IntN(len(froms))])
		}
		fmt.Fprintf(&b, "To: alice@example.test\n")
		if r.IntN(3) == 0 {
			b.WriteString("Cc: Carol <carol@example.net>, dave@example.com\n")
		}
		if s := subjects[r.IntN(len(subjects))]; s != "" {
			fmt.Fprintf(&b, "Subject: %s\n", s)
		}
		if r.IntN(6) > 0 {
			d := time.Date(2023+r.IntN(3), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.FixedZone("", 3600*(r.IntN(5)-2)))
			fmt.Fprintf(&b, "Date: %s\n", d.Format(time.RFC1123Z))
		}
		fmt.Fprintf(&b, "Message-ID: <pool-%d@oracle.test>\nX-Diff-Msg: %d\n", i, i)
		if r.IntN(4) == 0 {
			b.WriteString("In-Reply-To: <pool-0@oracle.test>\nReply-To: list@example.org\n")
		}
		switch r.IntN(6) {
		case 0, 1:
			b.WriteString("\nplain body line one\nzanzibar line two\n")
		case 2:
			b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße aus Köln\nzweite Zeile\n")
		case 3:
			b.WriteString(multipart(r))
		case 4:
			b.WriteString("MIME-Version: 1.0\nContent-Type: message/rfc822\n\nFrom: inner@example.org\nSubject: inner hello\n\ninner body\n")
		default:
			// A binary part; with a NUL (sent in a plain literal, a
			// protocol violation the two servers store differently:
			// docs/differences.md, append-binary) only when exploring.
			nul := "\x00"
			if tolerate("append-binary") {
				nul = "\x01"
			}
			b.WriteString("MIME-Version: 1.0\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\nraw" + nul + "bytes\rhere\x7f\xff\n")
		}
		out[i] = []byte(b.String())
	}
	return out
}

// multipart returns MIME headers and a multipart/mixed body with a text
// part, an alternative part and an attachment.
func multipart(r *rand.Rand) string {
	att := make([]byte, 100+r.IntN(400))
	for i := range att {
		att[i] = byte(r.IntN(256))
	}
	enc := base64.StdEncoding.EncodeToString(att)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\npreamble\n--outer\n" +
		"Content-Type: text/plain; charset=us-ascii\n\nsee the attachment zanzibar\n--outer\n" +
		"Content-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\nalt text\n--inner\n" +
		"Content-Type: text/html\n\n<p>alt html</p>\n--inner--\n--outer\n" +
		"Content-Type: application/pdf; name=\"r.pdf\"\nContent-Disposition: attachment; filename=\"r.pdf\"\n" +
		"Content-Transfer-Encoding: base64\n\n" + strings.Join(lines, "\n") + "\n--outer--\nepilogue\n"
}

// appendBody returns pool message m as APPENDed: CRLF line ends, except
// for the binary one with a NUL (NUL, bare CR, bare LF), which goes as it is.
func appendBody(msg []byte) []byte {
	if strings.Contains(string(msg), "\nraw\x00") {
		return msg
	}
	return []byte(crlf(string(msg)))
}

// writeTemplate writes the initial Maildir both worlds copy: a few
// messages in INBOX new/ and cur/ (with flags), folders A and A.x with
// messages, B empty, and subscriptions.
func writeTemplate(dir string, r *rand.Rand, pool [][]byte) error {
	o := mailOwner{} // copyTree gives the copies to the mail owner
	mk := func(folder string) (string, error) {
		d := folderDir(dir, folder)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
				return "", err
			}
		}
		return d, nil
	}
	n := 0
	for _, folder := range []string{"INBOX", "A", "A.x", "B"} {
		d, err := mk(folder)
		if err != nil {
			return err
		}
		count := 0
		switch folder {
		case "INBOX":
			count = 4
		case "A", "A.x":
			count = 2
		}
		for i := 0; i < count; i++ {
			n++
			name := fmt.Sprintf("%d.M%dP0.template", deliveryTime.Unix()-int64(1000-n), n)
			path := filepath.Join(d, "new", name)
			if r.IntN(2) == 0 {
				path = filepath.Join(d, "cur", name+":2,"+[]string{"", "S", "FS", "RS", "T"}[r.IntN(5)])
			}
			mt := deliveryTime.Add(-time.Duration(1000-n) * time.Second)
			if err := writeMessageFile(path, pool[r.IntN(len(pool))], mt, o); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "subscriptions"), []byte("INBOX\nA\nA.x\n"), 0o644)
}
