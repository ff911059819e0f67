package main

// The load client of `bench push`: a raw line-based IMAP client, one
// goroutine and one small bufio.Reader per connection, so that 10,000 idle
// connections cost the client process little memory (go-imap's imapclient
// keeps several goroutines and larger buffers per connection).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

const (
	benchReadBuf    = 1024             // bufio.Reader size per connection
	benchMaxLine    = 1 << 20          // longest response line accepted
	benchCmdTimeout = 60 * time.Second // bound of one command's response
)

// benchConn is one IDLE connection of the load client.
type benchConn struct {
	user     int // user index
	userName string
	password string
	expect   int      // operations aimed at this connection's user
	recorder *counter // shared progress counter

	nc   net.Conn
	br   *bufio.Reader
	line []byte // reused line buffer
	tag  int

	mu       sync.Mutex
	base     int     // EXISTS after SELECT
	exists   int     // last EXISTS (minus EXPUNGEs)
	recv     []int64 // recv[k]: when the k-th operation was seen (ns since bench start)
	extra    int     // notifications beyond expect
	uids     []uint32
	fetchErr error
}

// counter counts received notifications over all connections and closes
// done when want is reached.
type counter struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
}

func newCounter(want int) *counter {
	c := &counter{want: want, done: make(chan struct{})}
	if want == 0 {
		close(c.done)
	}
	return c
}

func (c *counter) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.n
	c.n += n
	if before < c.want && c.n >= c.want {
		close(c.done)
	}
}

// clientOpts is how connections reach the server.
type clientOpts struct {
	addr     string
	tls      bool
	starttls bool
	mode     string
	start    time.Time // latency origin
}

// setup dials, logs in, selects INBOX and enters IDLE.
func (c *benchConn) setup(o *clientOpts) error {
	d := net.Dialer{Timeout: benchCmdTimeout}
	nc, err := d.Dial("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", o.addr, err)
	}
	c.nc = nc
	tcfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // benchmark against a self-signed loopback server
	if o.tls {
		c.nc = tls.Client(nc, tcfg)
	}
	c.br = bufio.NewReaderSize(c.nc, benchReadBuf)
	c.nc.SetDeadline(time.Now().Add(benchCmdTimeout))
	greeting, err := c.readLine()
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if !bytes.HasPrefix(greeting, []byte("* OK")) {
		return fmt.Errorf("greeting: %q", greeting)
	}
	if o.starttls {
		if err := c.command("STARTTLS", nil); err != nil {
			return err
		}
		c.nc = tls.Client(nc, tcfg)
		c.br.Reset(c.nc)
	}
	if err := c.command("LOGIN "+quote(c.userName)+" "+quote(c.password), nil); err != nil {
		return err
	}
	if err := c.command("SELECT INBOX", c.untagged); err != nil {
		return err
	}
	c.mu.Lock()
	c.base = c.exists
	c.mu.Unlock()
	c.tag++
	if _, err := fmt.Fprintf(c.nc, "i%d IDLE\r\n", c.tag); err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	for {
		l, err := c.readLine()
		if err != nil {
			return fmt.Errorf("IDLE: %w", err)
		}
		if bytes.HasPrefix(l, []byte("+")) {
			break
		}
		if !bytes.HasPrefix(l, []byte("* ")) {
			return fmt.Errorf("IDLE: %q", l)
		}
		c.untagged(l)
	}
	c.nc.SetDeadline(time.Time{})
	return nil
}

// idle reads untagged responses until the IDLE command completes (after
// stop has written DONE) or the connection fails. start is the latency
// origin; mode selects which responses count.
func (c *benchConn) idle(o *clientOpts) error {
	idleTag := "i" + strconv.Itoa(c.tag) + " "
	for {
		l, err := c.readLine()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(l, []byte(idleTag)) {
			if !bytes.HasPrefix(l[len(idleTag):], []byte("OK")) {
				return fmt.Errorf("IDLE: %q", l)
			}
			return nil
		}
		if !bytes.HasPrefix(l, []byte("* ")) {
			continue
		}
		now := time.Since(o.start).Nanoseconds()
		n, kind := parseUntagged(l)
		var seen int
		c.mu.Lock()
		switch kind {
		case "EXISTS":
			c.exists = n
			if o.mode == modeDelivery || o.mode == modeBurst {
				seen = n - c.base - len(c.recv) - c.extra
			}
		case "EXPUNGE":
			c.exists--
			if o.mode == modeExpunge {
				seen = 1
			}
		case "FETCH":
			if o.mode == modeFlag && bytes.Contains(l, []byte(`\Flagged`)) {
				seen = 1
			}
		}
		for ; seen > 0; seen-- {
			if len(c.recv) < c.expect {
				c.recv = append(c.recv, now)
				c.recorder.add(1)
			} else {
				c.extra++
			}
		}
		c.mu.Unlock()
	}
}

// stop ends IDLE by writing DONE; idle then returns.
func (c *benchConn) stop() error {
	c.nc.SetWriteDeadline(time.Now().Add(benchCmdTimeout))
	_, err := io.WriteString(c.nc, "DONE\r\n")
	return err
}

// finish runs after idle returned: the optional UID FETCH 1:* (UID) check,
// then LOGOUT, then close.
func (c *benchConn) finish(fetchUIDs bool) error {
	defer c.nc.Close()
	c.nc.SetDeadline(time.Now().Add(benchCmdTimeout))
	if fetchUIDs {
		err := c.command("UID FETCH 1:* (UID)", func(l []byte) {
			if n, kind := parseUntagged(l); kind == "FETCH" && n > 0 {
				if i := bytes.Index(l, []byte("UID ")); i >= 0 {
					v, _ := strconv.ParseUint(string(digits(l[i+4:])), 10, 32)
					c.mu.Lock()
					c.uids = append(c.uids, uint32(v))
					c.mu.Unlock()
				}
			}
		})
		c.mu.Lock()
		c.fetchErr = err
		c.mu.Unlock()
	}
	return c.command("LOGOUT", nil)
}

// command sends one command and reads until its tagged response, passing
// untagged lines to handle (may be nil). A NO or BAD is an error.
func (c *benchConn) command(cmd string, handle func([]byte)) error {
	c.tag++
	tag := "a" + strconv.Itoa(c.tag) + " "
	if _, err := io.WriteString(c.nc, tag+cmd+"\r\n"); err != nil {
		return fmt.Errorf("%s: %w", verb(cmd), err)
	}
	for {
		l, err := c.readLine()
		if err != nil {
			return fmt.Errorf("%s: %w", verb(cmd), err)
		}
		if bytes.HasPrefix(l, []byte(tag)) {
			if bytes.HasPrefix(l[len(tag):], []byte("OK")) {
				return nil
			}
			return fmt.Errorf("%s: %s", verb(cmd), l)
		}
		if handle != nil && bytes.HasPrefix(l, []byte("* ")) {
			handle(l)
		}
	}
}

// untagged tracks EXISTS and EXPUNGE outside IDLE.
func (c *benchConn) untagged(l []byte) {
	n, kind := parseUntagged(l)
	c.mu.Lock()
	switch kind {
	case "EXISTS":
		c.exists = n
	case "EXPUNGE":
		c.exists--
	}
	c.mu.Unlock()
}

// readLine returns the next response line without CRLF, literals inlined
// as "{n}" followed by their bytes. The slice is valid until the next call.
func (c *benchConn) readLine() ([]byte, error) {
	c.line = c.line[:0]
	for {
		chunk, err := c.br.ReadSlice('\n')
		c.line = append(c.line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(c.line) > benchMaxLine {
				return nil, errors.New("response line too long")
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		c.line = bytes.TrimRight(c.line, "\r\n")
		n, ok := literalSize(c.line)
		if !ok {
			return c.line, nil
		}
		if n > benchMaxLine {
			return nil, errors.New("literal too long")
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(c.br, lit); err != nil {
			return nil, err
		}
		c.line = append(c.line, lit...)
	}
}

// literalSize reports whether line ends with a literal announcement {n}.
func literalSize(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSuffix(line[i+1:len(line)-1], []byte("+"))))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseUntagged parses "* <n> <KIND>..." and returns n and KIND, or 0 and
// "" for other responses.
func parseUntagged(l []byte) (int, string) {
	rest := l[2:]
	num := digits(rest)
	if len(num) == 0 || len(rest) <= len(num) || rest[len(num)] != ' ' {
		return 0, ""
	}
	n, err := strconv.Atoi(string(num))
	if err != nil {
		return 0, ""
	}
	kind := rest[len(num)+1:]
	if i := bytes.IndexByte(kind, ' '); i >= 0 {
		kind = kind[:i]
	}
	switch string(bytes.ToUpper(kind)) {
	case "EXISTS":
		return n, "EXISTS"
	case "EXPUNGE":
		return n, "EXPUNGE"
	case "FETCH":
		return n, "FETCH"
	}
	return 0, ""
}

// digits returns the leading ASCII digits of b.
func digits(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return b[:i]
}

// quote returns s as an IMAP quoted string.
func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// verb is the first word of cmd, for errors that must not show passwords.
func verb(cmd string) string {
	if i := bytes.IndexByte([]byte(cmd), ' '); i >= 0 {
		return cmd[:i]
	}
	return cmd
}
