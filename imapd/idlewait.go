package imapd

import (
	"bufio"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// An idle connection (between commands, or in IDLE) holds one goroutine,
// with a small stack, and no buffers:
//
//   - The connection's goroutine only waits for input (waitInput reads one
//     byte straight from the transport) and starts a worker goroutine per
//     command (onWorker), which parses, runs and answers it. The deep
//     stacks of commands (and of TLS writes) are the worker's, freed when
//     it ends; the waiting goroutine's stack never grows past what a read
//     through crypto/tls needs. A goroutine's stack shrinks at a GC only
//     while it uses less than a quarter of it (plus 800 bytes of guard), so
//     a stack grown by a command would have stayed at 8 KiB or more.
//   - The read buffer comes from a pool once the first byte is in, and
//     goes back when the connection waits again with nothing buffered.
//   - IDLE with a SessionIdleFunc returns to the connection's loop to wait
//     for DONE (idleState), instead of waiting inside its handler.

// readBufs holds the read buffers of connections that are reading a
// command.
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// inputSource is the transport as a connection's read buffer sees it: the
// byte waitInput read first, then the transport.
type inputSource struct {
	r       io.Reader // the transport, through the wire trace if any
	b       [1]byte
	pending bool // b holds a byte not yet handed out
}

func (s *inputSource) Read(p []byte) (int, error) {
	if s.pending && len(p) > 0 {
		p[0] = s.b[0]
		s.pending = false
		return 1, nil
	}
	return s.r.Read(p)
}

// waitInput returns once the client has sent something (or the read
// failed), with c.br set. While it waits, the connection holds no read
// buffer.
func (c *Conn) waitInput() error {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return nil
		}
		c.br.Reset(nil)
		readBufs.Put(c.br)
		c.br = nil
	}
	var err error
	if !c.src.pending {
		var n int
		n, err = c.src.r.Read(c.src.b[:])
		c.src.pending = n == 1
		if n == 1 {
			err = nil // a read error comes again at the next read
		}
	}
	c.br = readBufs.Get().(*bufio.Reader)
	c.br.Reset(&c.src)
	return err
}

// onWorker runs f in a goroutine of its own and waits for it (see above).
// A panic in f ends the connection.
func (c *Conn) onWorker(f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("panic in IMAP connection", "panic", v)
				done <- errPanic
			}
		}()
		done <- f()
	}()
	return <-done
}

// idleState is an IDLE command waiting for DONE in the connection's loop.
type idleState struct {
	tag   string
	stop  func()
	start time.Time
}

// suspendIdle ends the IDLE handler once "+ idling" is out: the
// connection's loop waits for DONE with waitInput and calls endIdle.
func (c *Conn) suspendIdle(cmd *command, stop func()) {
	c.idling = &idleState{tag: cmd.tag, stop: stop, start: time.Now()}
	cmd.suspended = true
}

// endIdle reads the line that ends IDLE, stops the session's updates and
// answers, as the IDLE command would have.
func (c *Conn) endIdle() error {
	c.beginCommand()
	defer c.endCommand()
	st := c.idling
	c.idling = nil
	line, err := c.readLine()
	st.stop()
	if err != nil {
		return err
	}
	var resp *imap.StatusResponse
	if !strings.EqualFold(strings.TrimSpace(line), "DONE") {
		err = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Expected DONE"}
		resp = c.statusFor("IDLE", err)
	} else if err = c.poll("IDLE"); err != nil {
		resp = c.statusFor("IDLE", err)
	} else if err = c.flushNotify(pushNone); err != nil {
		resp = c.statusFor("IDLE", err)
	} else {
		resp = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "Idle completed"}
	}
	if hook := c.srv.opts.CommandDone; hook != nil {
		hook("IDLE", time.Since(st.start), outcome("IDLE", err))
	}
	return c.writeTagged(st.tag, resp)
}
