package imapmsg_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

func TestSection_cases(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	header := nestedMsg[:strings.Index(nestedMsg, "\n\n")+2]
	tests := []struct {
		name string
		item imap.FetchItemBodySection
		want string
	}{
		{"whole", imap.FetchItemBodySection{}, crlf(nestedMsg)},
		{"header", imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader}, crlf(header)},
		{"text", imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}, crlf(nestedMsg[len(header):])},
		{"fields", imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"subject", "MESSAGE-ID", "X-None"}},
			"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= nested\r\n folded\r\nMessage-ID: <nested@example.com>\r\n\r\n"},
		{"fields not", imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"From", "To", "Cc", "Subject", "Date"}},
			"Message-ID: <nested@example.com>\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"},
		{"part 1", imap.FetchItemBodySection{Part: []int{1}}, "Stra\xdfe"},
		{"part 1 mime", imap.FetchItemBodySection{Part: []int{1}, Specifier: imap.PartSpecifierMIME},
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\nContent-Language: de, en\r\n\r\n"},
		{"part 2 header", imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierHeader},
			"From: inner@example.org (Inner Person)\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"},
		{"part 2 header fields", imap.FetchItemBodySection{Part: []int{2}, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}},
			"Subject: inner\r\n\r\n"},
		{"part 2.1", imap.FetchItemBodySection{Part: []int{2, 1}}, "inner plain zanzibar"},
		{"part 2.2 mime", imap.FetchItemBodySection{Part: []int{2, 2}, Specifier: imap.PartSpecifierMIME}, "Content-Type: text/html\r\n\r\n"},
		{"part 3", imap.FetchItemBodySection{Part: []int{3}}, "AAEC/w=="},
		{"part 1 header not a message", imap.FetchItemBodySection{Part: []int{1}, Specifier: imap.PartSpecifierHeader}, ""},
		{"missing part", imap.FetchItemBodySection{Part: []int{9}}, ""},
		{"missing subpart", imap.FetchItemBodySection{Part: []int{1, 2}}, ""},
		{"partial", imap.FetchItemBodySection{Part: []int{2, 1}, Partial: &imap.SectionPartial{Offset: 6, Size: 5}}, "plain"},
		{"partial past end", imap.FetchItemBodySection{Part: []int{3}, Partial: &imap.SectionPartial{Offset: 100, Size: 5}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := imapmsg.Section(strings.NewReader(nestedMsg), &tt.item)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSection_singlePart(t *testing.T) {
	msg := "Subject: x\r\n\r\nline1\nline2\n"
	got, err := imapmsg.Section(strings.NewReader(msg), &imap.FetchItemBodySection{Part: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "line1\r\nline2\r\n"; string(got) != want {
		t.Errorf("BODY[1] = %q, want %q", got, want)
	}
	// 1.1 of a single-part message does not exist: "" (as Dovecot 2.3).
	got, err = imapmsg.Section(strings.NewReader(msg), &imap.FetchItemBodySection{Part: []int{1, 1}})
	if err != nil || len(got) != 0 {
		t.Errorf("BODY[1.1] = %q, %v; want \"\"", got, err)
	}
}

func TestBinary_cases(t *testing.T) {
	tests := []struct {
		name    string
		part    []int
		want    string
		wantErr error
	}{
		{"base64", []int{3}, "\x00\x01\x02\xff", nil},
		{"quoted-printable", []int{4}, "café softbreak", nil},
		{"8bit", []int{1}, "Stra\xdfe", nil},
		{"unknown cte", []int{5}, "", imapmsg.ErrUnknownCTE},
		{"missing", []int{7}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := imapmsg.Binary(strings.NewReader(nestedMsg), &imap.FetchItemBinarySection{Part: tt.part})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			size, err := imapmsg.BinarySize(strings.NewReader(nestedMsg), tt.part)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("BinarySize err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && size != int64(len(tt.want)) {
				t.Errorf("BinarySize = %d, want %d", size, len(tt.want))
			}
		})
	}
}

// BINARY[] of a whole message, and of a multipart part, decodes every
// base64 and quoted-printable leaf and labels it binary, as Dovecot does.
func TestBinary_wholeMessageDecodesParts(t *testing.T) {
	msg := "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n" +
		"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\nX-After: 1\n\nAAH/\n--b--\n"
	want := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nX-After: 1\r\n\r\n\x00\x01\xff\r\n--b--\r\n"
	got, err := imapmsg.Binary(strings.NewReader(msg), &imap.FetchItemBinarySection{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("BINARY[] =\n%q\nwant\n%q", got, want)
	}
	size, err := imapmsg.BinarySize(strings.NewReader(msg), nil)
	if err != nil || size != int64(len(want)) {
		t.Errorf("BINARY.SIZE[] = %d, %v; want %d", size, err, len(want))
	}
	plain := "Subject: y\n\nbody\n"
	if got, _ := imapmsg.Binary(strings.NewReader(plain), &imap.FetchItemBinarySection{}); string(got) != "Subject: y\r\n\r\nbody\r\n" {
		t.Errorf("BINARY[] of a plain message = %q", got)
	}
}

// Part numbers below a leaf, as Dovecot 2.3 answers them: a leaf has one
// part 1, itself.
func TestSection_partsBelowALeaf(t *testing.T) {
	msg := "Subject: y\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\npart one\n" +
		"--b\nContent-Type: message/rfc822\n\nSubject: in\n\ninner\n--b--\n"
	for _, tt := range []struct {
		part []int
		want string
	}{
		{[]int{1}, "part one"},
		{[]int{1, 1}, "part one"},
		{[]int{1, 1, 1}, ""},
		{[]int{2, 1}, "inner"},
		{[]int{2, 1, 1}, ""},
		{[]int{2, 2}, ""},
		{[]int{3}, ""},
	} {
		got, err := imapmsg.Section(strings.NewReader(msg), &imap.FetchItemBodySection{Part: tt.part})
		if err != nil || string(got) != tt.want {
			t.Errorf("BODY%v = %q, %v; want %q", tt.part, got, err, tt.want)
		}
	}
}

// A multipart part whose close delimiter is followed at once by the outer
// delimiter ends after its close delimiter line, as Dovecot 2.3 parses it;
// with an epilogue, before the line ending that precedes the outer
// delimiter (checked against Dovecot).
func TestSection_nestedMultipartEnd(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n" +
			"--inner\nContent-Type: text/plain\n\nalt\n--inner--\n--outer--\n",
			"--inner\r\nContent-Type: text/plain\r\n\r\nalt\r\n--inner--\r\n"},
		{"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n" +
			"--inner\nContent-Type: text/plain\n\nalt\n--inner--\nepi-inner\n--outer--\n",
			"--inner\r\nContent-Type: text/plain\r\n\r\nalt\r\n--inner--\r\nepi-inner"},
	} {
		got, err := imapmsg.Section(strings.NewReader(tt.msg), &imap.FetchItemBodySection{Part: []int{1}})
		if err != nil || string(got) != tt.want {
			t.Errorf("BODY[1] = %q, %v; want %q", got, err, tt.want)
		}
	}
}
