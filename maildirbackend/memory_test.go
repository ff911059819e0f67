package maildirbackend_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// The tests of this file check that what a command holds in memory does
// not grow with the message: they measure the live heap of the test
// process (server and client) or its allocations, never time.

// bigMessage writes a message of about size bytes into folder/new/ the way
// an MTA does, streaming, and returns its path. Its body is a
// multipart/mixed: a quoted-printable text part, a base64 text part that
// ends with "zanzibar-at-the-end", then an octet-stream part; LF line
// endings, and a NUL byte every 4 KiB of the text part.
func bigMessage(t testing.TB, folder string, size int) string {
	t.Helper()
	tmp := filepath.Join(folder, "tmp", "big.1")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	fmt.Fprintf(w, "From: big@example.org\nTo: alice@example.org\nSubject: big\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n"+
		"Content-Transfer-Encoding: quoted-printable\n\n")
	line := strings.Repeat("Gr=C3=BC=C3=9Fe aus M=C3=BCnchen ", 2) + "=\n"
	for n := 0; n < size/3; n += len(line) {
		w.WriteString(line)
		if n%4096 < len(line) {
			w.WriteString("nul \x00 here\n")
		}
	}
	w.WriteString("\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n")
	enc := base64.NewEncoder(base64.StdEncoding, &lineWriter{w: w})
	text := []byte("All work and no play makes Jack a dull boy. ")
	for n := 0; n < size/3; n += len(text) * 4 / 3 {
		enc.Write(text)
	}
	enc.Write([]byte("zanzibar-at-the-end"))
	enc.Close()
	w.WriteString("\n--b\nContent-Type: application/octet-stream\n\n")
	chunk := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 1024)
	for n := 0; n < size/3; n += len(chunk) {
		w.Write(chunk)
	}
	w.WriteString("--b--\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(folder, "new", "big.1")
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// lineWriter breaks base64 into 76-character lines.
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), 76-l.col)
		l.w.Write(p[:k])
		p, l.col = p[k:], l.col+k
		if l.col == 76 {
			l.w.Write([]byte{'\n'})
			l.col = 0
		}
	}
	return n, nil
}

// wantBody returns the SHA-256 and size of BODY[] of the file: CRLF line
// endings, NUL as 0x80.
func wantBody(t testing.TB, path string) ([32]byte, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := imapmsg.WriteCRLF(nulTo80{h}, f)
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, n
}

type nulTo80 struct{ w io.Writer }

func (n nulTo80) Write(p []byte) (int, error) {
	return n.w.Write(bytes.ReplaceAll(p, []byte{0}, []byte{0x80}))
}

// rawConn is a logged-in connection with INBOX selected.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, s *maildirtest.Server) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &rawConn{Conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
	rc.r.ReadSlice('\n')
	rc.command(t, "LOGIN "+maildirtest.User+" "+maildirtest.Password)
	rc.command(t, "SELECT INBOX")
	return rc
}

// command sends a command and returns its response lines, literals
// skipped, the tagged line last.
func (rc *rawConn) command(t testing.TB, cmd string) []string {
	t.Helper()
	fmt.Fprintf(rc, "x %s\r\n", cmd)
	var lines []string
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		lines = append(lines, line)
		if n, ok := literalSize(line); ok {
			if _, err := rc.r.Discard(n); err != nil {
				t.Fatal(err)
			}
		}
		if strings.HasPrefix(line, "x ") {
			return lines
		}
	}
}

// literalSize returns n for a line ending in "{n}\r\n".
func literalSize(line string) (int, bool) {
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(line[i+1 : len(line)-1])
	return n, err == nil
}

// readLiteral reads a FETCH response with one literal and returns the
// literal's SHA-256 and size, and the completion line.
func (rc *rawConn) readLiteral(t testing.TB) ([32]byte, int64, string) {
	t.Helper()
	line, err := rc.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, ok := literalSize(line)
	if !ok {
		t.Fatalf("no literal: %q", line)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, rc.r, int64(n)); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	rest, _ := rc.r.ReadString('\n') // ")"
	done, _ := rc.r.ReadString('\n')
	return sum, int64(n), rest + done
}

// liveHeap returns the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestFetch_nonReadingClientsHoldNoMessage: six clients FETCH BODY[] of a
// 12 MiB message and read only the first bytes. Each server connection is
// then blocked writing; what it holds must be buffers, not the message
// (before streaming, each held the file and its CRLF copy: 24 MiB).
func TestFetch_nonReadingClientsHoldNoMessage(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	path := bigMessage(t, s.Maildir, 12<<20)
	sum, size := wantBody(t, path)
	var conns []*rawConn
	for i := 0; i < 6; i++ {
		conns = append(conns, dialRaw(t, s))
	}
	base := liveHeap()
	for _, rc := range conns {
		fmt.Fprintf(rc, "x FETCH 1 BODY.PEEK[]\r\n")
		if _, err := rc.r.Peek(1); err != nil { // the response has started
			t.Fatal(err)
		}
	}
	held := int64(liveHeap()) - int64(base)
	t.Logf("6 blocked FETCH BODY[] of %d bytes hold %d KiB", size, held>>10)
	if held > 24<<20 {
		t.Errorf("6 connections blocked on a %d MiB FETCH hold %d MiB of heap", size>>20, held>>20)
	}
	for _, rc := range conns {
		got, n, done := rc.readLiteral(t)
		if got != sum || n != size || !strings.HasPrefix(done, ")\r\nx OK") {
			t.Fatalf("BODY[]: %d bytes (want %d), same content %v, then %q", n, size, got == sum, done)
		}
	}
}

// TestFetch_partialReadsTheRange: BODY.PEEK[]<offset.count> of a 12 MiB
// message returns exactly that range and allocates a few buffers, not the
// message.
func TestFetch_partialReadsTheRange(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	path := bigMessage(t, s.Maildir, 12<<20)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	imapmsg.WriteCRLF(nulTo80{&whole}, bytes.NewReader(raw))
	raw = nil
	rc := dialRaw(t, s)
	rc.command(t, "FETCH 1 RFC822.SIZE") // parse the structure once
	for _, r := range [][2]int{{0, 100}, {9 << 20, 5000}, {whole.Len() - 10, 100}, {3<<20 + 7, 1 << 20}} {
		before := totalAlloc()
		fmt.Fprintf(rc, "x FETCH 1 BODY.PEEK[]<%d.%d>\r\n", r[0], r[1])
		got, n, done := rc.readLiteral(t)
		alloc := totalAlloc() - before
		want := whole.Bytes()[r[0]:min(r[0]+r[1], whole.Len())]
		if got != sha256.Sum256(want) || n != int64(len(want)) || !strings.HasPrefix(done, ")\r\nx OK") {
			t.Fatalf("<%d.%d>: %d bytes, want %d; then %q", r[0], r[1], n, len(want), done)
		}
		if alloc > 4<<20 {
			t.Errorf("<%d.%d> of a %d MiB message allocated %d MiB", r[0], r[1], whole.Len()>>20, alloc>>20)
		}
	}
}

// TestSearch_textStreams: SEARCH TEXT and BODY on a 12 MiB message find a
// word at the end of a base64 text part and in a quoted-printable one,
// decoded, and allocate buffers, not the message.
func TestSearch_textStreams(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	bigMessage(t, s.Maildir, 12<<20)
	rc := dialRaw(t, s)
	rc.command(t, "FETCH 1 RFC822.SIZE")
	for _, tt := range []struct{ key, want string }{
		{`TEXT "zanzibar-at-the-end"`, "* SEARCH 1\r\n"},
		{`BODY "grüsse aus münchen"`, "* SEARCH 1\r\n"},
		{`BODY "from: big@example.org"`, "* SEARCH\r\n"},
		{`TEXT "from: big@example.org"`, "* SEARCH 1\r\n"},
		{`TEXT "not-in-there"`, "* SEARCH\r\n"},
	} {
		before := totalAlloc()
		lines := rc.command(t, "SEARCH CHARSET UTF-8 "+tt.key)
		alloc := totalAlloc() - before
		if len(lines) != 2 || lines[0] != tt.want || !strings.HasPrefix(lines[1], "x OK") {
			t.Fatalf("SEARCH %s: %q, want %q", tt.key, lines, tt.want)
		}
		if alloc > 8<<20 {
			t.Errorf("SEARCH %s on a 12 MiB message allocated %d MiB", tt.key, alloc>>20)
		}
	}
}
