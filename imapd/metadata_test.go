package imapd_test

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// metaServer starts the engine over a real Maildir with METADATA options.
func metaServer(t *testing.T, o maildirbackend.MetadataOptions) *maildirtest.Server {
	t.Helper()
	return maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd", Backend: maildirbackend.Options{Metadata: o}})
}

// resp reads one response, the data of its literals inlined after their
// "{n}" and a CRLF, as they came.
func (c *rawConn) resp() string {
	c.t.Helper()
	var sb strings.Builder
	for {
		l := c.line()
		sb.WriteString(l)
		i := strings.LastIndexByte(l, '{')
		if i < 0 || !strings.HasSuffix(l, "}") {
			return sb.String()
		}
		n, err := strconv.Atoi(strings.TrimSuffix(l[i+1:len(l)-1], "+"))
		if err != nil {
			return sb.String()
		}
		buf := make([]byte, n)
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		sb.WriteString("\r\n")
		sb.Write(buf)
	}
}

// mcmd sends "tag line" and returns the responses, literals inlined, the
// tagged one last.
func (c *rawConn) mcmd(tag, line string) []string {
	c.t.Helper()
	c.send(tag + " " + line + "\r\n")
	var out []string
	for {
		r := c.resp()
		out = append(out, r)
		if strings.HasPrefix(r, tag+" ") {
			return out
		}
	}
}

// check sends each command and compares its responses with want.
func (c *rawConn) check(steps []metaStep) {
	c.t.Helper()
	for i, st := range steps {
		got := strings.Join(c.mcmd(fmt.Sprintf("M%d", i), st.cmd), "\n")
		want := strings.ReplaceAll(st.want, "TAG", fmt.Sprintf("M%d", i))
		if got != want {
			c.t.Errorf("%s\n got: %q\nwant: %q", st.cmd, got, want)
		}
	}
}

type metaStep struct{ cmd, want string }

func TestMetadata_capability(t *testing.T) {
	c := dialRaw(t, newServer(t))
	if r := strings.Join(c.cmd("A", "CAPABILITY"), "\n"); strings.Contains(r, "METADATA") {
		t.Errorf("METADATA before login: %s", r)
	}
	c.login()
	r := strings.Join(c.cmd("B", "CAPABILITY"), "\n")
	if !strings.Contains(r, " METADATA ") || !strings.Contains(r, " METADATA-SERVER") {
		t.Errorf("no METADATA after login: %s", r)
	}
}

func TestMetadata_setGet(t *testing.T) {
	c := dialRaw(t, newServer(t))
	c.login()
	c.check([]metaStep{
		{`SETMETADATA INBOX (/private/comment "mine" /Shared/Comment {5+}` + "\r\nshare /private/vendor/x/y \"deep\" /private/vendor/x \"mid\")", "TAG OK SETMETADATA completed"},
		// Names are case-insensitive and answered in lower case.
		{`GETMETADATA INBOX (/PRIVATE/comment /shared/comment /private/none)`,
			"* METADATA INBOX (/private/comment {4}\r\nmine /shared/comment {5}\r\nshare /private/none NIL)\nTAG OK GETMETADATA completed"},
		{`GETMETADATA INBOX /private/vendor/x`, "* METADATA INBOX (/private/vendor/x {3}\r\nmid)\nTAG OK GETMETADATA completed"},
		// DEPTH 1: children only; missing roots are left out.
		{`GETMETADATA (DEPTH 1) INBOX (/private /private/vendor)`,
			"* METADATA INBOX (/private/comment {4}\r\nmine /private/vendor/x {3}\r\nmid)\nTAG OK GETMETADATA completed"},
		{`GETMETADATA (DEPTH infinity) INBOX /private`,
			"* METADATA INBOX (/private/comment {4}\r\nmine /private/vendor/x {3}\r\nmid /private/vendor/x/y {4}\r\ndeep)\nTAG OK GETMETADATA completed"},
		// MAXSIZE leaves out the larger values and names the largest.
		{`GETMETADATA (MAXSIZE 3 DEPTH infinity) INBOX (/private /shared)`,
			"* METADATA INBOX (/private/vendor/x {3}\r\nmid)\nTAG OK [METADATA LONGENTRIES 5] GETMETADATA completed"},
		{`GETMETADATA (MAXSIZE 0) INBOX /private/none`, "* METADATA INBOX (/private/none NIL)\nTAG OK GETMETADATA completed"},
		{`GETMETADATA (DEPTH 1) INBOX /shared/none`, "TAG OK GETMETADATA completed"},
		// NIL removes; the empty string is a value.
		{`SETMETADATA INBOX (/private/comment NIL /shared/comment "")`, "TAG OK SETMETADATA completed"},
		{`GETMETADATA INBOX (/private/comment /shared/comment)`,
			"* METADATA INBOX (/private/comment NIL /shared/comment {0}\r\n)\nTAG OK GETMETADATA completed"},
		{`SETMETADATA INBOX ()`, "TAG OK SETMETADATA completed"},
		{`GETMETADATA INBOX ()`, "TAG OK GETMETADATA completed"},
		{`SETMETADATA Nope (/private/comment "x")`, "TAG NO [NONEXISTENT] No such mailbox"},
		{`GETMETADATA Nope /private/comment`, "TAG NO [NONEXISTENT] No such mailbox"},
	})
}

func TestMetadata_badNames(t *testing.T) {
	c := dialRaw(t, newServer(t))
	c.login()
	bad := "TAG BAD [CLIENTBUG] Error in IMAP command "
	for _, cmd := range []string{"SETMETADATA INBOX (%s \"x\")", "GETMETADATA INBOX %s"} {
		verb := strings.Fields(cmd)[0] + ": "
		c.check([]metaStep{
			{fmt.Sprintf(cmd, "foo"), bad + verb + "Entry name must begin with '/'"},
			{fmt.Sprintf(cmd, "/private//foo"), bad + verb + "Entry name can't contain consecutive '/'"},
			{fmt.Sprintf(cmd, "/private/foo/"), bad + verb + "Entry name can't end with '/'"},
			{fmt.Sprintf(cmd, "/private/f*o"), bad + verb + "Entry name can't contain '*'"},
			{fmt.Sprintf(cmd, "/private/f%o"), bad + verb + "Entry name can't contain '%'"},
			{fmt.Sprintf(cmd, `"/private/a\\b"`), map[bool]string{true: "TAG OK SETMETADATA completed",
				false: "* METADATA INBOX (\"/private/a\\\\b\" {1}\r\nx)\nTAG OK GETMETADATA completed"}[verb == "SETMETADATA: "]},
			{fmt.Sprintf(cmd, "/other/foo"), bad + verb + "Entry name must begin with /private or /shared"},
			{fmt.Sprintf(cmd, "/privatex"), bad + verb + "Entry name must begin with /private or /shared"},
			{fmt.Sprintf(cmd, "{3}\r\n/\x01b"), "+ Ready for literal data\n" + bad + verb + "Entry name can't contain control chars"},
		})
	}
	c.check([]metaStep{
		// A bad name anywhere refuses the whole command.
		{`SETMETADATA INBOX (/private/a "1" /bad "2")`, bad + "SETMETADATA: Entry name must begin with /private or /shared"},
		{`GETMETADATA INBOX /private/a`, "* METADATA INBOX (/private/a NIL)\nTAG OK GETMETADATA completed"},
		{`SETMETADATA INBOX (/private/a)`, bad + "SETMETADATA: Entry value missing"},
		{`SETMETADATA INBOX (/private/a ("x"))`, bad + "SETMETADATA: Entry value can't be a list"},
		{`GETMETADATA (DEPTH 2) INBOX /private`, bad + "GETMETADATA: Invalid value for DEPTH option"},
		{`GETMETADATA (MAXSIZE -1) INBOX /private`, bad + "GETMETADATA: Invalid value for MAXSIZE option"},
		{`GETMETADATA (FOO) INBOX /private`, bad + "GETMETADATA: Unknown option"},
		// /private and /shared themselves hold nothing.
		{`SETMETADATA INBOX (/private "x")`, "TAG NO [CANNOT] /private and /shared themselves hold no value"},
		{`GETMETADATA INBOX /shared`, "* METADATA INBOX (/shared NIL)\nTAG OK GETMETADATA completed"},
	})
}

func TestMetadata_binaryValues(t *testing.T) {
	c := dialRaw(t, newServer(t))
	c.login()
	bin := "a\x00b\xff\r\nc"
	c.check([]metaStep{
		{"SETMETADATA INBOX (/private/bin ~{" + strconv.Itoa(len(bin)) + "+}\r\n" + bin + " /private/utf8 {5+}\r\n\xc3\xa9t\xc3\xa9 /private/atom word)", "TAG OK SETMETADATA completed"},
		{"GETMETADATA INBOX (/private/bin /private/utf8 /private/atom)",
			"* METADATA INBOX (/private/bin ~{" + strconv.Itoa(len(bin)) + "}\r\n" + bin + " /private/utf8 {5}\r\n\xc3\xa9t\xc3\xa9 /private/atom {4}\r\nword)\nTAG OK GETMETADATA completed"},
	})
	// A synchronizing literal is asked for with "+".
	c.send("S SETMETADATA INBOX (/private/sync {4}\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("got %q, want a continuation request", l)
	}
	c.send("sync)\r\n")
	if l := c.line(); l != "S OK SETMETADATA completed" {
		t.Fatalf("got %q", l)
	}
}

// TestMetadata_deltaChat runs what Delta Chat sends: its push token on
// INBOX (a LITERAL+ value), and the server entries it reads at start.
func TestMetadata_deltaChat(t *testing.T) {
	srv := metaServer(t, maildirbackend.MetadataOptions{Server: map[string]string{
		"/shared/admin":                      "mailto:postmaster@example.org",
		"/Shared/Vendor/deltachat/irohrelay": "https://iroh.example.org/",
	}})
	c := dialRaw(t, srv)
	c.login()
	token := "openpgp:-----BEGIN PGP MESSAGE-----\r\nwcBMA\r\n-----END PGP MESSAGE-----\r\n"
	c.check([]metaStep{
		{`GETMETADATA "" (/shared/comment /shared/admin /shared/vendor/deltachat/irohrelay /shared/vendor/deltachat/turn)`,
			"* METADATA \"\" (/shared/comment NIL /shared/admin {29}\r\nmailto:postmaster@example.org /shared/vendor/deltachat/irohrelay {25}\r\nhttps://iroh.example.org/ /shared/vendor/deltachat/turn NIL)\nTAG OK GETMETADATA completed"},
		{fmt.Sprintf("SETMETADATA \"INBOX\" (/private/devicetoken {%d+}\r\n%s)", len(token), token), "TAG OK SETMETADATA completed"},
		{`GETMETADATA "INBOX" /private/devicetoken`, fmt.Sprintf("* METADATA INBOX (/private/devicetoken {%d}\r\n%s)\nTAG OK GETMETADATA completed", len(token), token)},
		// The server's /shared entries are read-only, its /private ones
		// the user's own.
		{`SETMETADATA "" (/shared/admin "mailto:me@example.org")`, "TAG NO [CANNOT] The /shared/admin entry of the server cannot be changed"},
		{`SETMETADATA "" (/private/comment "note")`, "TAG OK SETMETADATA completed"},
		{`GETMETADATA (DEPTH infinity) "" /private`, "* METADATA \"\" (/private/comment {4}\r\nnote)\nTAG OK GETMETADATA completed"},
	})
}

// TestMetadata_limits checks the limits, and that a value over them is
// never asked for (synchronizing literal) or is read to nowhere (LITERAL+),
// the connection going on.
func TestMetadata_limits(t *testing.T) {
	srv := metaServer(t, maildirbackend.MetadataOptions{MaxValueSize: 100, MaxEntries: 3, MaxBytes: 300})
	c := dialRaw(t, srv)
	c.login()
	big := strings.Repeat("x", 101)
	c.send("S SETMETADATA INBOX (/private/a {5000000}\r\n")
	if l := c.line(); l != "S NO [METADATA MAXSIZE 100] Metadata value too large" {
		t.Fatalf("got %q", l)
	}
	c.check([]metaStep{
		{"SETMETADATA INBOX (/private/a {101+}\r\n" + big + " /private/b \"x\")", "TAG NO [METADATA MAXSIZE 100] Metadata value too large"},
		{`SETMETADATA INBOX (/private/a "` + big + `")`, "TAG NO [METADATA MAXSIZE 100] Metadata value too large"},
		{`SETMETADATA INBOX (/private/a "1" /private/b "2" /private/c "3" /private/d "4")`, "TAG NO [METADATA TOOMANY] Too many metadata entries or bytes"},
		{`GETMETADATA INBOX /private/a`, "* METADATA INBOX (/private/a NIL)\nTAG OK GETMETADATA completed"},
		{`SETMETADATA INBOX (/private/a "1" /private/b "2")`, "TAG OK SETMETADATA completed"},
		{`SETMETADATA "" (/private/c "3")`, "TAG OK SETMETADATA completed"},
		// The fourth entry of the user, in another file: TOOMANY.
		{`CREATE Other`, "TAG OK CREATE completed"},
		{`SETMETADATA Other (/private/d "4")`, "TAG NO [METADATA TOOMANY] Too many metadata entries or bytes for this user"},
		// Replacing a value is no new entry; bytes count too.
		{`SETMETADATA INBOX (/private/a "` + strings.Repeat("y", 90) + `")`, "TAG OK SETMETADATA completed"},
		{`SETMETADATA INBOX (/private/b "` + strings.Repeat("y", 90) + `")`, "TAG OK SETMETADATA completed"},
		{`SETMETADATA "" (/private/c "` + strings.Repeat("y", 95) + `")`, "TAG NO [METADATA TOOMANY] Too many metadata entries or bytes for this user"},
		// Removing is always allowed.
		{`SETMETADATA INBOX (/private/a NIL)`, "TAG OK SETMETADATA completed"},
		{`SETMETADATA Other (/private/d "4")`, "TAG OK SETMETADATA completed"},
	})
}
