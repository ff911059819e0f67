package imapmsg_test

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

func TestCRLF_cases(t *testing.T) {
	long := strings.Repeat("x", 64<<10-1) + "\r\n" + strings.Repeat("y\n", 70000)
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"lf", "a\nb\n", "a\r\nb\r\n"},
		{"crlf kept", "a\r\nb", "a\r\nb"},
		{"mixed", "a\r\n\nb\r\r\n", "a\r\n\r\nb\r\r\n"},
		{"leading lf", "\n\n", "\r\n\r\n"},
		{"crlf across 64 KiB blocks", long, strings.ReplaceAll(strings.ReplaceAll(long, "\r\n", "\n"), "\n", "\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				r := func() *strings.Reader { return strings.NewReader(tt.in) }
				var buf bytes.Buffer
				var n int64
				var err error
				if oneByte {
					n, err = imapmsg.WriteCRLF(&buf, iotest.OneByteReader(r()))
				} else {
					n, err = imapmsg.WriteCRLF(&buf, r())
				}
				if err != nil {
					t.Fatal(err)
				}
				if buf.String() != tt.want || n != int64(len(tt.want)) {
					t.Errorf("oneByte=%v: WriteCRLF = %d %q..., want %d", oneByte, n, trunc(buf.String()), len(tt.want))
				}
				size, err := imapmsg.CRLFSize(iotest.HalfReader(r()))
				if oneByte {
					size, err = imapmsg.CRLFSize(iotest.OneByteReader(r()))
				}
				if err != nil || size != int64(len(tt.want)) {
					t.Errorf("oneByte=%v: CRLFSize = %d, %v; want %d", oneByte, size, err, len(tt.want))
				}
			}
		})
	}
}

func TestCRLF_readError(t *testing.T) {
	r := iotest.ErrReader(iotest.ErrTimeout)
	if _, err := imapmsg.CRLFSize(r); err == nil {
		t.Error("CRLFSize: no error")
	}
	if _, err := imapmsg.WriteCRLF(&bytes.Buffer{}, r); err == nil {
		t.Error("WriteCRLF: no error")
	}
	if _, err := imapmsg.Parse(r); err == nil {
		t.Error("Parse: no error")
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}
