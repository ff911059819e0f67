package lmtp

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// memSpool is how much of a message is kept in memory; a larger one goes
// to an unlinked temporary file.
const memSpool = 256 << 10

// spooled is a message read once and delivered to several recipients.
type spooled struct {
	mem  []byte   // the whole message, when file is nil
	file *os.File // may be nil
	size int64
}

// spool reads r to its end. go-smtp's data reader enforces the size limit
// (its 552 error comes back from here).
func spool(r io.Reader) (*spooled, error) {
	buf := make([]byte, 0, 32<<10)
	b := bytes.NewBuffer(buf)
	n, err := io.Copy(b, io.LimitReader(r, memSpool+1))
	if err != nil {
		return nil, err
	}
	if n <= memSpool {
		return &spooled{mem: b.Bytes(), size: n}, nil
	}
	f, err := os.CreateTemp("", "maildir-imapd-lmtp-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	sp := &spooled{file: f}
	if _, err := f.Write(b.Bytes()); err != nil {
		sp.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	m, err := io.Copy(f, r)
	if err != nil {
		sp.Close()
		return nil, err
	}
	sp.size = n + m
	return sp, nil
}

// Reader returns a reader of the whole message from its start.
func (s *spooled) Reader() (io.Reader, error) {
	if s.file == nil {
		return bytes.NewReader(s.mem), nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s.file, nil
}

// Size is the message's size on the wire.
func (s *spooled) Size() int64 { return s.size }

// Close removes the spool.
func (s *spooled) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
