package maildirbackend_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

func TestNewListener_orderAndFlushOnClose(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := maildirbackend.NewListener(raw)
	defer ln.Close()
	var want bytes.Buffer
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&want, "* %d FETCH (FLAGS (\\Seen))\r\n", i+1)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		for _, line := range bytes.SplitAfter(want.Bytes(), []byte("\n")) {
			if _, err := c.Write(line); err != nil {
				done <- err
				return
			}
		}
		done <- c.Close() // must send everything queued first
	}()
	client, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("received %d bytes, want %d in order", len(got), want.Len())
	}
}
