package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compressClient is an IMAP client in Python that turns on COMPRESS=DEFLATE
// (RFC 4978) with the zlib library (raw DEFLATE, wbits -15), then selects
// INBOX and fetches a message through the compressed stream, ending each
// command with a sync flush (as K-9 and neomutt do) or a partial flush (as
// mbsync does). It prints every response line.
const compressClient = `
import socket, sys, zlib
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
flush = zlib.Z_PARTIAL_FLUSH if sys.argv[5] == "partial" else zlib.Z_SYNC_FLUSH
s = socket.create_connection((host, port), timeout=20)
f = s.makefile("rb")
def plain(line):
    s.sendall(line + b"\r\n")
def until(tag, read):
    while True:
        l = read()
        print(l.decode("utf-8", "replace").rstrip("\r\n"))
        if l.startswith(tag + b" "):
            return l
print(f.readline().decode().rstrip())
plain(b'a LOGIN "' + user.encode() + b'" "' + password.encode() + b'"')
until(b"a", f.readline)
plain(b"b COMPRESS DEFLATE")
if not until(b"b", f.readline).startswith(b"b OK"):
    sys.exit(1)
comp = zlib.compressobj(6, zlib.DEFLATED, -15)
decomp = zlib.decompressobj(-15)
buf = b""
def send(line):
    s.sendall(comp.compress(line + b"\r\n") + comp.flush(flush))
def readline():
    global buf
    while b"\n" not in buf:
        data = s.recv(4096)
        if not data:
            raise SystemExit("connection closed")
        buf += decomp.decompress(data)
    i = buf.index(b"\n") + 1
    l, buf = buf[:i], buf[i:]
    return l
send(b"c SELECT INBOX")
until(b"c", readline)
send(b"d FETCH 1 (FLAGS BODY.PEEK[])")
until(b"d", readline)
send(b"e COMPRESS DEFLATE")
until(b"e", readline)
send(b"f LOGOUT")
until(b"f", readline)
`

// TestCompress_pythonZlib: a client that compresses (Python's zlib)
// reads a message through COMPRESS=DEFLATE.
func TestCompress_pythonZlib(t *testing.T) {
	t.Parallel()
	python := requireTool(t, "python3", "python3")
	root := filepath.Join(t.TempDir(), "Maildir")
	makeMaildir(t, root)
	body := message("Squeezed", strings.Repeat("All work and no play. ", 200))
	putMessage(t, root, "cur", "S", body)
	d := startDaemon(t, singleUserConfig(root))
	script := filepath.Join(t.TempDir(), "compress.py")
	if err := os.WriteFile(script, []byte(compressClient), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, flush := range []string{"sync", "partial"} {
		t.Run(flush, func(t *testing.T) {
			checkCompressTranscript(t, mustRun(t, nil, python, script, host, port, testUser, testPass, flush))
		})
	}
}

func checkCompressTranscript(t *testing.T, res toolResult) {
	t.Helper()
	for _, want := range []string{
		"b OK DEFLATE active",
		"* 1 EXISTS",
		"Subject: Squeezed",
		strings.Repeat("All work and no play. ", 3),
		"d OK",
		"e NO [COMPRESSIONACTIVE]",
		"* BYE",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("transcript lacks %q:\n%s", want, res.stdout)
		}
	}
}
