package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// benchConn is a minimal IMAP client for the side-by-side benchmark: it
// writes a command and reads lines until the tagged one, skipping literals
// without parsing anything else, so that the client costs the same against
// Dovecot and maildir-imapd. It is not safe for concurrent use.
type benchConn struct {
	conn  net.Conn
	r     *bufio.Reader
	tag   int
	bytes int64 // read since the last command was sent
}

// benchDeadline bounds each command of the benchmark client: the first
// FETCH 1:* (ENVELOPE) of 100,000 messages on a busy machine takes longer
// than the tests' deadline.
const benchDeadline = 10 * time.Minute

// benchReply is what benchConn.Cmd saw of one command's response.
type benchReply struct {
	Untagged int    // lines starting with "* "
	Hits     int    // numbers in "* SEARCH" lines
	Bytes    int64  // bytes read, literals included
	Status   string // the tagged line without its tag, e.g. "OK Fetch completed."
}

// dialBench connects to addr and reads the greeting.
func dialBench(addr string) (*benchConn, error) {
	conn, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &benchConn{conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
	if err := conn.SetDeadline(time.Now().Add(deadline)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	greeting, err := c.r.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(greeting, []byte("* OK")) {
		conn.Close()
		return nil, fmt.Errorf("greeting of %s: %q: %v", addr, greeting, err)
	}
	return c, nil
}

// Cmd sends one command (without tag and CRLF) and reads its response. A
// tagged NO or BAD is an error.
func (c *benchConn) Cmd(cmd string) (benchReply, error) {
	c.tag++
	tag := "a" + strconv.Itoa(c.tag)
	if err := c.conn.SetDeadline(time.Now().Add(benchDeadline)); err != nil {
		return benchReply{}, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := io.WriteString(c.conn, tag+" "+cmd+"\r\n"); err != nil {
		return benchReply{}, fmt.Errorf("write %q: %w", cmd, err)
	}
	rep, err := c.readReply(tag)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", cmd, err)
	}
	if !bytes.HasPrefix([]byte(rep.Status), []byte("OK")) {
		return rep, fmt.Errorf("%s: %s", cmd, rep.Status)
	}
	return rep, nil
}

// readReply reads lines until the one tagged tag. A line ending in a
// literal's {n} (or {n+}) continues after the n bytes, which are skipped.
func (c *benchConn) readReply(tag string) (benchReply, error) {
	var rep benchReply
	prefix := []byte(tag + " ")
	lineStart := true
	for {
		line, err := c.r.ReadSlice('\n')
		rep.Bytes += int64(len(line))
		if err != nil {
			return rep, fmt.Errorf("read response: %w", err)
		}
		if lineStart {
			switch {
			case bytes.HasPrefix(line, []byte("* SEARCH")):
				rep.Hits += len(bytes.Fields(line)) - 2
				rep.Untagged++
			case bytes.HasPrefix(line, []byte("* OK ")):
				// Not counted: Dovecot's progress notices during a long
				// SEARCH ("* OK Searched 76% of the mailbox, ETA 0:05").
			case bytes.HasPrefix(line, []byte("* ")):
				rep.Untagged++
			case bytes.HasPrefix(line, prefix):
				rep.Status = string(bytes.TrimRight(line[len(prefix):], "\r\n"))
				return rep, nil
			}
		}
		n, ok := literalSize(line)
		if !ok {
			lineStart = true
			continue
		}
		if _, err := c.r.Discard(n); err != nil {
			return rep, fmt.Errorf("read literal of %d bytes: %w", n, err)
		}
		rep.Bytes += int64(n)
		lineStart = false // the line goes on after the literal
	}
}

// literalSize returns n if line ends with "{n}\r\n" or "{n+}\r\n".
func literalSize(line []byte) (int, bool) {
	line = bytes.TrimSuffix(line, []byte("\r\n"))
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(line[open+1:len(line)-1], []byte("+"))
	n, err := strconv.Atoi(string(digits))
	return n, err == nil && n >= 0
}

// Close sends LOGOUT, reads the answer and closes the connection.
func (c *benchConn) Close() error {
	_, err := c.Cmd("LOGOUT")
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}
