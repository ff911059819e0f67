package imapd_test

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// seqModel is the client's view of the selected mailbox: UIDs by sequence
// number, 0 where only EXISTS told of a message.
type seqModel struct {
	t    *testing.T
	uids []uint32
}

// apply checks one untagged response of command cmd against the model and
// updates it.
func (m *seqModel) apply(cmd, r string) {
	m.t.Helper()
	f := strings.Fields(r)
	if len(f) < 3 || f[0] != "*" {
		return
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return
	}
	switch f[2] {
	case "EXPUNGE":
		// RFC 9051 section 7.5.1: never while answering FETCH, STORE
		// or SEARCH by sequence number.
		if !strings.HasPrefix(cmd, "UID ") && !strings.HasPrefix(cmd, "NOOP") {
			m.t.Fatalf("%q sent during %q", r, cmd)
		}
		if n < 1 || n > len(m.uids) {
			m.t.Fatalf("%q with %d messages", r, len(m.uids))
		}
		m.uids = append(m.uids[:n-1], m.uids[n:]...)
	case "EXISTS":
		if n < len(m.uids) {
			m.t.Fatalf("%q with %d messages", r, len(m.uids))
		}
		for len(m.uids) < n {
			m.uids = append(m.uids, 0)
		}
	case "FETCH":
		if n < 1 || n > len(m.uids) {
			m.t.Fatalf("%q (during %q) with %d messages", r, cmd, len(m.uids))
		}
		i := strings.Index(r, "(UID ")
		if i < 0 {
			return
		}
		uid, _ := strconv.Atoi(strings.TrimRight(strings.Fields(r[i+5:])[0], ")"))
		switch m.uids[n-1] {
		case 0:
			m.uids[n-1] = uint32(uid)
		case uint32(uid):
		default:
			m.t.Fatalf("%q during %q: the client knows %d as UID %d", r, cmd, n, m.uids[n-1])
		}
	}
}

// TestPipeline_expungeDuringFetch pipelines FETCH, UID FETCH, SEARCH and
// NOOP while another session expunges and an MTA delivers: no EXPUNGE
// reaches the client while it runs a command by sequence number, and every
// FETCH response names the UID the client has at that sequence number.
func TestPipeline_expungeDuringFetch(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 40)
	a := dialPipe(t, srv.Addr)
	a.login()
	b := dialPipe(t, srv.Addr)
	b.login()
	m := &seqModel{t: t}
	for i := 1; i <= 40; i++ {
		m.uids = append(m.uids, uint32(i))
	}
	cmds := []string{"FETCH 1:* (UID)", "UID FETCH 1:* (UID FLAGS)", "SEARCH ALL", "FETCH 2:5 (UID)", "UID SEARCH ALL", "NOOP"}
	next := uint32(1)
	for round := range 15 {
		var sb strings.Builder
		var tags, names []string
		for i := range 12 {
			tag := fmt.Sprintf("r%d.%d", round, i)
			cmd := cmds[(round+i)%len(cmds)]
			fmt.Fprintf(&sb, "%s %s\r\n", tag, cmd)
			tags, names = append(tags, tag), append(names, cmd)
		}
		a.send(sb.String())
		// Another session expunges the lowest message left, and an MTA
		// delivers one, while a's batch runs.
		b.send(fmt.Sprintf("x UID STORE %d:* +FLAGS.SILENT (\\Deleted)\r\ny UID EXPUNGE %d\r\n", next, next))
		next++
		maildirtest.Deliver(t, srv.Maildir, maildirtest.Message(fmt.Sprintf("n%d", round)))
		for i, tag := range tags {
			for _, r := range a.until(tag) {
				if !strings.HasPrefix(r, tag+" ") {
					m.apply(names[i], r)
				} else if !strings.HasPrefix(r, tag+" OK") {
					t.Fatalf("%s %s: %q", tag, names[i], r)
				}
			}
		}
		b.until("x")
		b.until("y")
	}
	// Catch up, then the client's list must be the mailbox's.
	a.send("z NOOP\r\n")
	for _, r := range a.until("z") {
		m.apply("NOOP", r)
	}
	// FETCH's own poll may announce a message after its responses.
	for range 2 {
		a.send("w FETCH 1:* (UID)\r\n")
		for _, r := range a.until("w") {
			m.apply("FETCH", r)
		}
	}
	r := a.until(func() string { a.send("u UID SEARCH ALL\r\n"); return "u" }())
	var want []string
	for _, u := range m.uids {
		want = append(want, strconv.Itoa(int(u)))
	}
	if got := r[0]; got != "* SEARCH "+strings.Join(want, " ") {
		t.Fatalf("the server has %q, the client's list is %v", got, want)
	}
}

// TestPipeline_barriers: commands that change what a neighbour reads are
// never run beside it: a FETCH after STORE sees the flag, a FETCH FLAGS
// after FETCH BODY[] sees \Seen, FETCH $ after SEARCH SAVE reads the saved
// result.
func TestPipeline_barriers(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 3)
	c := dialPipe(t, srv.Addr)
	c.login()
	c.send("a FETCH 1 (FLAGS)\r\nb STORE 1 +FLAGS.SILENT (\\Flagged)\r\nc FETCH 1 (FLAGS)\r\n" +
		"d FETCH 2 (BODY[])\r\ne FETCH 2 (FLAGS)\r\n" +
		"f SEARCH RETURN (SAVE) 3\r\ng FETCH $ (UID)\r\n")
	want := map[string]string{
		"a": "* 1 FETCH (FLAGS (\\Recent))",
		"c": "* 1 FETCH (FLAGS (\\Flagged \\Recent))",
		"e": "* 2 FETCH (FLAGS (\\Seen \\Recent))",
		"g": "* 3 FETCH (UID 3)",
	}
	for _, tag := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		r := c.until(tag)
		if !strings.HasPrefix(r[len(r)-1], tag+" OK") {
			t.Fatalf("%s: %q", tag, r)
		}
		if w, ok := want[tag]; ok && (len(r) != 2 || r[0] != w) {
			t.Errorf("%s: got %q, want %q", tag, r, w)
		}
	}
}

// TestPipeline_idle: IDLE pipelined after FETCHes starts once they are
// answered; a command pipelined after DONE runs after IDLE's tagged reply.
func TestPipeline_idle(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 2)
	c := dialPipe(t, srv.Addr)
	c.login()
	c.send("a UID FETCH 1 (UID)\r\nb UID FETCH 2 (UID)\r\ni IDLE\r\n")
	for _, tag := range []string{"a", "b"} {
		if r := c.until(tag); len(r) != 2 || !strings.HasPrefix(r[1], tag+" OK") {
			t.Fatalf("%s: %q", tag, r)
		}
	}
	if r := c.response(); !strings.HasPrefix(r, "+ ") {
		t.Fatalf("IDLE: %q", r)
	}
	maildirtest.Deliver(t, srv.Maildir, maildirtest.Message("during idle"))
	if r := c.response(); r != "* 3 EXISTS" {
		t.Fatalf("during IDLE: %q", r)
	}
	c.send("DONE\r\nd UID FETCH 3 (UID)\r\n")
	if r := c.until("i"); len(r) > 2 || len(r) == 2 && r[0] != "* 3 RECENT" {
		t.Fatalf("DONE: %q", r)
	}
	if r := c.until("d"); r[0] != "* 3 FETCH (UID 3)" {
		t.Fatalf("after IDLE: %q", r)
	}
}

// TestPipeline_compress: COMPRESS pipelined after FETCHes waits for their
// answers, which go out uncompressed; what follows it is compressed both
// ways.
func TestPipeline_compress(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 3)
	c := dialPipe(t, srv.Addr)
	c.login()
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, flate.BestSpeed)
	io.WriteString(zw, "n UID FETCH 3 (UID)\r\n")
	zw.Flush()
	c.send("a UID FETCH 1 (UID)\r\nb FETCH 2 (UID)\r\nz COMPRESS DEFLATE\r\n" + z.String())
	for _, tag := range []string{"a", "b", "z"} {
		if r := c.until(tag); !strings.HasPrefix(r[len(r)-1], tag+" OK") {
			t.Fatalf("%s: %q", tag, r)
		}
	}
	zr := flate.NewReader(c.br)
	buf := make([]byte, 200)
	var got []byte
	for !bytes.Contains(got, []byte("n OK")) {
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := zr.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			t.Fatalf("compressed answer: %v (after %q)", err, got)
		}
	}
	if !bytes.HasPrefix(got, []byte("* 3 FETCH (UID 3)\r\nn OK")) {
		t.Fatalf("compressed answer %q", got)
	}
}

// TestPipeline_authenticate: the SASL response and a command pipelined
// after AUTHENTICATE are read in turn: the response as the credentials,
// the command in the authenticated state.
func TestPipeline_authenticate(t *testing.T) {
	srv := newServer(t)
	c := dialPipe(t, srv.Addr)
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + maildirtest.User + "\x00" + maildirtest.Password))
	c.send("a AUTHENTICATE PLAIN\r\n" + creds + "\r\nb CAPABILITY\r\nc STATUS INBOX (MESSAGES)\r\n")
	if r := c.response(); !strings.HasPrefix(r, "+") {
		t.Fatalf("AUTHENTICATE: %q", r)
	}
	if r := c.until("a"); !strings.HasPrefix(r[len(r)-1], "a OK") {
		t.Fatalf("AUTHENTICATE: %q", r)
	}
	r := c.until("b")
	if strings.Contains(r[0], "AUTH=PLAIN") || !strings.Contains(r[0], "NAMESPACE") {
		t.Fatalf("CAPABILITY after AUTHENTICATE: %q", r)
	}
	if r := c.until("c"); r[0] != "* STATUS INBOX (MESSAGES 0)" {
		t.Fatalf("STATUS: %q", r)
	}
}

// TestPipeline_startTLS: a command pipelined after STARTTLS in the clear
// is never run (CVE-2011-0411): the server hangs up.
func TestPipeline_startTLS(t *testing.T) {
	srv := newServer(t)
	addr := serveWrapped(t, srv, &imapd.Options{TLSConfig: testTLSConfig(t)}, func(s *maildirbackend.EngineSession) imapd.Session { return s })
	c := dialPipe(t, addr)
	c.send("a STARTTLS\r\nb LOGIN " + maildirtest.User + " " + maildirtest.Password + "\r\n")
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(rest) != 0 {
		t.Fatalf("answered %q to a command pipelined after STARTTLS", rest)
	}
	// Without anything after it, STARTTLS works.
	c = dialPipe(t, addr)
	c.send("a STARTTLS\r\n")
	if r := c.until("a"); !strings.HasPrefix(r[0], "a OK") {
		t.Fatalf("STARTTLS: %q", r)
	}
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(tc, "b CAPABILITY\r\n")
	buf := make([]byte, 1000)
	k, err := io.ReadAtLeast(tc, buf, 1)
	if err != nil || !strings.Contains(string(buf[:k]), "AUTH=PLAIN") {
		t.Fatalf("CAPABILITY over TLS: %q, %v", buf[:k], err)
	}
}

func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
