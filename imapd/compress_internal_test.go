package imapd

import (
	"compress/flate"
	"io"
	"net"
	"testing"
	"time"
)

// TestDeflateConn_releasesCompressor: between bursts a compressed
// connection holds no compressor, and bursts written by different
// compressors still read as one DEFLATE stream.
func TestDeflateConn_releasesCompressor(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	d, err := newDeflateConn(srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	bursts := []string{"* 1 EXISTS\r\n", "* 2 EXISTS\r\n* 2 EXISTS\r\n", "a OK done\r\n"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range bursts {
			d.Write([]byte(b))
			d.Flush()
		}
	}()
	zr := flate.NewReader(cli)
	for _, b := range bursts {
		cli.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(b))
		if _, err := io.ReadFull(zr, got); err != nil || string(got) != b {
			t.Fatalf("read %q, %v; want %q", got, err, b)
		}
	}
	<-done
	if d.w != nil {
		t.Fatal("the compressor is kept after the last flush")
	}
}
