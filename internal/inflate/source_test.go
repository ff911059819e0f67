package inflate

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"
)

// chunkSource hands out its chunks one at a time, like a connection that
// receives them in separate TCP segments: Buffered reports only what is
// left of the current chunk, and taking the next chunk (which would block
// on a real connection) calls refill first.
type chunkSource struct {
	cur    []byte
	chunks [][]byte
	refill func(next int) // called before chunk next is handed out
	served int
}

func (s *chunkSource) Buffered() int { return len(s.cur) }

func (s *chunkSource) load() error {
	for len(s.cur) == 0 {
		if s.refill != nil {
			s.refill(s.served)
		}
		if len(s.chunks) == 0 {
			return io.EOF
		}
		s.cur, s.chunks = s.chunks[0], s.chunks[1:]
		s.served++
	}
	return nil
}

func (s *chunkSource) ReadByte() (byte, error) {
	if err := s.load(); err != nil {
		return 0, err
	}
	b := s.cur[0]
	s.cur = s.cur[1:]
	return b, nil
}

func (s *chunkSource) Read(p []byte) (int, error) {
	if err := s.load(); err != nil {
		return 0, err
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// readHexLines reads a file of hex lines, one chunk per line.
func readHexLines(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		b, err := hex.DecodeString(strings.TrimSpace(l))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, b)
	}
	return out
}

// decodeAll decodes src completely through a bufio.Reader, reading into
// buffers of size bufSize.
func decodeAll(src []byte, bufSize int) ([]byte, error) {
	r := NewReader(bufio.NewReader(bytes.NewReader(src)))
	var out []byte
	buf := make([]byte, bufSize)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
