package imapmsg_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

func TestConvertBinaryParts_cases(t *testing.T) {
	long := strings.Repeat("\x00\xff\r\n", 30) // 120 bytes: three base64 lines
	tests := []struct {
		name, in string
		want     string // "" means unchanged
		part     []int  // BINARY[part] of the result must equal body
		body     string
	}{
		{name: "no binary part", in: "Content-Type: text/plain\r\n\r\nhello\r\n"},
		{name: "binary part that reads back is kept, as Dovecot keeps it",
			in: "Content-Transfer-Encoding: binary\r\n\r\nraw\x01\x7f\xffbytes\rhere\r\nline two\r\n"},
		{name: "multipart labelled binary is kept",
			in: "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: binary\n\n--b\n\nx\n--b--\n"},
		{name: "root leaf",
			in:   "Subject: x\r\nContent-Transfer-Encoding: BINARY\r\nX-After: 1\r\n\r\n\x00\n\r\n",
			want: "Subject: x\r\nContent-Transfer-Encoding: base64\r\nX-After: 1\r\n\r\nAAoNCg==",
			part: []int{1}, body: "\x00\n\r\n"},
		{name: "long part, LF message",
			in:   "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: binary\n\n" + long + "\n--b--\n",
			part: []int{1}, body: long},
		{name: "inside message/rfc822",
			in: "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
				"Content-Type: application/x\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01",
			want: "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
				"Content-Type: application/x\r\nContent-Transfer-Encoding: base64\r\n\r\nAAE=",
			part: []int{1, 1}, body: "\x00\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := imapmsg.ConvertBinaryParts([]byte(tt.in))
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if tt.want == "" && tt.part == nil && string(got) != tt.in {
				t.Errorf("changed: %q", got)
			}
			if bytes.IndexByte(got, 0) >= 0 {
				t.Errorf("NUL left in %q", got)
			}
			for _, line := range strings.Split(string(got), "\n") {
				if len(line) > 78 {
					t.Errorf("line of %d characters", len(line))
				}
			}
			if tt.part != nil {
				b, err := imapmsg.Binary(bytes.NewReader(got), &imap.FetchItemBinarySection{Part: tt.part})
				if err != nil || string(b) != tt.body {
					t.Errorf("BINARY%v = %q, %v; want %q", tt.part, b, err, tt.body)
				}
			}
		})
	}
}
