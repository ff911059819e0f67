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

func TestMetadata_smoke(t *testing.T) {
	srv := metaServer(t, maildirbackend.MetadataOptions{Server: map[string]string{"/shared/admin": "mailto:postmaster@example.org"}})
	c := dialRaw(t, srv)
	c.login()
	for _, l := range []string{
		`SETMETADATA INBOX (/private/comment "hello" /shared/comment {3+}` + "\r\nabc)",
		`GETMETADATA INBOX (/private/comment /shared/comment /private/nope)`,
		`GETMETADATA (DEPTH infinity MAXSIZE 3) INBOX /private`,
		`GETMETADATA "" (/shared/admin /shared/comment /shared/vendor/deltachat/irohrelay)`,
		`SETMETADATA "" (/shared/comment "x")`,
		`CAPABILITY`,
	} {
		fmt.Printf("%q\n", c.mcmd("A", l))
	}
}
