package maildirbackend_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// binaryPart is the content of the binary MIME part of binaryMessage: a
// NUL, an 8-bit byte, and line ends that are neither LF-only nor CRLF-only.
const binaryPart = "\x00-\xe4\n\r\n\n"

// binaryMessage is a message with a Content-Transfer-Encoding: binary part
// holding binaryPart, with CRLF line endings as clients send.
const binaryMessage = "From: user@domain.org\r\n" +
	"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n" +
	"Subject: binary\r\n" +
	"Mime-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"foo\"\r\n" +
	"\r\n" +
	"--foo\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: binary\r\n" +
	"\r\n" +
	binaryPart + "\r\n" +
	"--foo\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"text with a \x00 inside\r\n" +
	"--foo--\r\n"

// TestSession_appendLiteral8RoundTrip appends a message with a binary part
// as an RFC 3516 literal8 and reads it back. Dovecot (imap/cmd-append.c,
// lib-mail/istream-binary-converter.c) stores a literal8 message with its
// "Content-Transfer-Encoding: binary" parts converted to base64, so that
// the file stays a text file every Maildir reader agrees on: BINARY[1]
// decodes it to the exact bytes appended, BODY[1] is the base64 text, and
// no {n} literal carries a NUL (RFC 3501 section 4.3: CHAR8 excludes NUL;
// Dovecot, lib-imap-storage/imap-msgpart.c, sends NUL as 0x80 in BODY[]).
func TestSession_appendLiteral8RoundTrip(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	rc := fxDial(t, s)
	fmt.Fprintf(rc.c, "a1 APPEND INBOX ~{%d+}\r\n%s\r\n", len(binaryMessage), binaryMessage)
	if resp := rc.readResponse(); !strings.HasPrefix(resp, "a1 OK") {
		t.Fatalf("APPEND: %s", resp)
	}
	rc.cmd("SELECT INBOX")

	bin := rc.cmd("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
	want := fmt.Sprintf("BINARY[1] ~{%d}\r\n%s", len(binaryPart), binaryPart)
	if len(bin) != 1 || !strings.Contains(bin[0], want) || !strings.Contains(bin[0], fmt.Sprintf("BINARY.SIZE[1] %d", len(binaryPart))) {
		t.Errorf("FETCH BINARY[1] = %q, want %q", bin, want)
	}
	bin = rc.cmd("FETCH 1 (BINARY.PEEK[2])")
	if want := "text with a \x00 inside"; len(bin) != 1 || !strings.Contains(bin[0], want) {
		t.Errorf("FETCH BINARY[2] = %q, want %q", bin, want)
	}

	for _, item := range []string{"BODY.PEEK[]", "BODY.PEEK[1]", "BODY.PEEK[2]", "BODY.PEEK[TEXT]", "RFC822.PEEK"} {
		resp := rc.cmd("FETCH 1 (%s)", item)
		if len(resp) != 1 || strings.IndexByte(resp[0], 0) >= 0 {
			t.Errorf("FETCH %s puts a NUL into a {n} literal: %q", item, resp)
		}
	}
	// The binary part is sent as base64, decoding to the appended bytes.
	body := rc.cmd("FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME])")
	if len(body) != 1 || !strings.Contains(body[0], "AC3kCg0KCg==") ||
		!strings.Contains(body[0], "Content-Transfer-Encoding: base64\r\n") {
		t.Errorf("FETCH BODY[1] = %q, want the part in base64", body)
	}
	// The text part keeps its bytes, NUL shown as 0x80 (same size).
	body = rc.cmd("FETCH 1 (BODY.PEEK[2])")
	if len(body) != 1 || !strings.Contains(body[0], "text with a \x80 inside") {
		t.Errorf("FETCH BODY[2] = %q", body)
	}

	// The message file is the one Dovecot would write: LF line ends, the
	// binary part in base64, everything else as appended.
	files, _ := filepath.Glob(filepath.Join(s.Maildir, "new", "*"))
	if len(files) != 1 {
		t.Fatalf("files in new/: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(binaryPart)) || !bytes.Contains(data, []byte("text with a \x00 inside\n")) ||
		!bytes.Contains(data, []byte("Content-Transfer-Encoding: base64\n\nAC3kCg0KCg==\n--foo\n")) {
		t.Errorf("stored message = %q", data)
	}
}
