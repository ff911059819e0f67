package inflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// decodeChunks decodes chunks through a chunkSource, reading into buffers
// of bufSize, and checks before each chunk i>0 is handed out that exactly
// want[i-1] has been returned.
func decodeChunks(t *testing.T, chunks [][]byte, want [][]byte, bufSize int) []byte {
	t.Helper()
	var out []byte
	src := &chunkSource{chunks: chunks}
	src.refill = func(next int) {
		if next == 0 || next > len(want) {
			return
		}
		if w := want[next-1]; !bytes.Equal(out, w) {
			t.Fatalf("before chunk %d: returned %d bytes, want %d (tail %q)", next, len(out), len(w), tail(out))
		}
	}
	r := NewReader(src)
	buf := make([]byte, bufSize)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(out), err)
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-40):] }

// TestMbsyncAppend feeds the client-to-server chunks that mbsync sent,
// APPEND included, in a deflate block it leaves open; every command must
// come out before the decoder asks for the next chunk.
func TestMbsyncAppend(t *testing.T) {
	chunks := readHexLines(t, "testdata/mbsync-append.hex")
	var out, before []byte // before: what was returned before the source ran dry
	src := &chunkSource{chunks: chunks}
	src.refill = func(next int) {
		if next == len(chunks) {
			before = bytes.Clone(out)
		}
		if next > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Errorf("before chunk %d: output ends with %q, not a whole command", next, tail(out))
		}
	}
	r := NewReader(src)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Read: %v", err)
			}
			break
		}
	}
	if !bytes.Equal(before, out) {
		t.Fatalf("output before the source ran dry: %d bytes, in all %d", len(before), len(out))
	}
	const head = "9 APPEND \"Proj3\" (\\Seen) {264+}\r\n"
	i := bytes.Index(before, []byte(head))
	if i < 0 {
		t.Fatalf("no APPEND in %q", before)
	}
	if rest := before[i+len(head):]; len(rest) != 264+2 || !bytes.HasSuffix(rest, []byte("Created offline.\r\n\r\n")) {
		t.Fatalf("APPEND literal and CRLF: got %d bytes %q", len(rest), rest)
	}
}

// TestZlibVectors decodes the streams of testdata/gen_zlib.py; after each
// flush (partial, sync or full) all the input so far must come out before
// the decoder asks for more.
func TestZlibVectors(t *testing.T) {
	for _, name := range []string{"zlib-partial-1.txt", "zlib-partial-6.txt", "zlib-mixed-6.txt"} {
		t.Run(name, func(t *testing.T) {
			chunks, want := readVector(t, "testdata/"+name)
			for _, size := range []int{7, 4096, 1 << 16} {
				got := decodeChunks(t, chunks, want, size)
				if !bytes.Equal(got, want[len(want)-1]) {
					t.Fatalf("buffer %d: got %d bytes, want %d", size, len(got), len(want[len(want)-1]))
				}
			}
		})
	}
}

// readVector returns the compressed chunks of a gen_zlib.py file and the
// plain text up to the end of each.
func readVector(t *testing.T, name string) (chunks, want [][]byte) {
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var plain []byte
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("%s: bad line %.40q", name, l)
		}
		c, err1 := hex.DecodeString(f[0])
		p, err2 := hex.DecodeString(strings.TrimPrefix(f[1], "-"))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plain = append(plain, p...)
		chunks = append(chunks, c)
		want = append(want, bytes.Clone(plain))
	}
	return chunks, want
}

// testInput returns n bytes mixing text, random bytes and long runs.
func testInput(rng *rand.Rand, n int) []byte {
	words := strings.Fields("a FETCH UID (FLAGS \\Seen) BODY[] Subject: hello world maildir imapd Received: from")
	var b []byte
	for len(b) < n {
		switch rng.IntN(4) {
		case 0, 1:
			for range rng.IntN(200) {
				b = append(b, words[rng.IntN(len(words))]...)
				b = append(b, " \r\n"[rng.IntN(3)])
			}
		case 2:
			for range rng.IntN(2000) {
				b = append(b, byte(rng.Uint32()))
			}
		default:
			b = append(b, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(5000))...)
		}
	}
	return b[:n]
}

// TestRoundTrip compresses with compress/flate at every level, flushing
// between random chunks, and checks that each flushed chunk is decoded
// before the next is asked for.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	input := testInput(rng, 300_000)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		t.Run(fmt.Sprint("level", level), func(t *testing.T) {
			var comp bytes.Buffer
			w, err := flate.NewWriter(&comp, level)
			if err != nil {
				t.Fatal(err)
			}
			var chunks, want [][]byte
			for off := 0; off < len(input); {
				n := min(len(input)-off, 1+rng.IntN(70_000))
				w.Write(input[off : off+n])
				off += n
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				chunks = append(chunks, bytes.Clone(comp.Bytes()))
				want = append(want, input[:off])
				comp.Reset()
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, comp.Bytes())
			for _, size := range []int{1, 100, 4096, 1 << 16} {
				if got := decodeChunks(t, chunks, want, size); !bytes.Equal(got, input) {
					t.Fatalf("buffer %d: output differs", size)
				}
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		corrupt bool
	}{
		{"empty", nil, false},
		{"block type 3", []byte{0x07}, true},
		{"stored length mismatch", []byte{0x01, 0x05, 0x00, 0x00, 0x00}, true},
		{"stored truncated", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'a'}, false},
		// Fixed block whose first symbol is length 3 (code 257), distance 1.
		{"distance too far", []byte{0x03, 0x02, 0x00}, true},
		{"dynamic too many codes", []byte{0xfd, 0xff, 0xff}, true},
		{"fixed truncated", []byte{0x4b, 0x4c}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(tt.in, 4096)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.corrupt != errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v: corrupt %v, want %v", err, !tt.corrupt, tt.corrupt)
			}
			if !tt.corrupt && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// FuzzReader checks that Reader agrees with compress/flate on any input:
// the same output, or an error from both.
func FuzzReader(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, level)
		w.Write(testInput(rng, 3000))
		w.Flush()
		w.Write(testInput(rng, 300))
		w.Close()
		f.Add(b.Bytes())
	}
	f.Add(readHexLines(f, "testdata/mbsync-append.hex")[6])
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
		got, gerr := decodeAll(in, 1+len(in)%5000)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("compress/flate: %v; inflate: %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs: %d bytes, want %d", len(got), len(want))
		}
	})
}

func benchInput(b *testing.B) (plain, comp []byte) {
	rng := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields("From: To: Subject: Date: the of and a to in is you that it he was for on are as with his they I at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part")
	var buf bytes.Buffer
	for buf.Len() < 1<<20 {
		buf.WriteString(words[rng.IntN(len(words))])
		buf.WriteByte(" \n"[rng.IntN(2)])
	}
	plain = buf.Bytes()[:1<<20]
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, flate.DefaultCompression)
	w.Write(plain)
	w.Close()
	return plain, c.Bytes()
}

// BenchmarkDecode decodes 1 MiB of text with Reader and with compress/flate.
func BenchmarkDecode(b *testing.B) {
	plain, comp := benchInput(b)
	buf := make([]byte, 4096)
	run := func(b *testing.B, open func(io.Reader) io.Reader) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			r := open(bytes.NewReader(comp))
			n := 0
			for {
				k, err := r.Read(buf)
				n += k
				if err != nil {
					break
				}
			}
			if n != len(plain) {
				b.Fatalf("decoded %d bytes", n)
			}
		}
	}
	b.Run("inflate", func(b *testing.B) {
		run(b, func(r io.Reader) io.Reader { return NewReader(bufio.NewReader(r)) })
	})
	b.Run("compress-flate", func(b *testing.B) {
		run(b, func(r io.Reader) io.Reader { return flate.NewReader(r) })
	})
}
