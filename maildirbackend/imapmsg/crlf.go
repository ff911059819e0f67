package imapmsg

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
)

const blockSize = 64 << 10

// CRLFSize returns the size of the message read from r in its CRLF form
// (RFC822.SIZE): the number of bytes plus the number of LF bytes not
// preceded by CR. It reads in 64 KiB blocks and does not allocate per line.
func CRLFSize(r io.Reader) (int64, error) {
	buf := make([]byte, blockSize)
	var size int64
	prevCR := false
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b := buf[:n]
			size += int64(n) + int64(bytes.Count(b, []byte{'\n'})) - int64(bytes.Count(b, []byte("\r\n")))
			if prevCR && b[0] == '\n' {
				size-- // CR ended the previous block
			}
			prevCR = b[n-1] == '\r'
		}
		if err == io.EOF {
			return size, nil
		}
		if err != nil {
			return size, fmt.Errorf("imapmsg: reading message: %w", err)
		}
	}
}

// crlfLen returns the CRLF size of b.
func crlfLen(b []byte) int64 {
	return int64(len(b)) + int64(bytes.Count(b, []byte{'\n'})) - int64(bytes.Count(b, []byte("\r\n")))
}

// appendCRLF appends src to dst with every bare LF turned into CRLF.
func appendCRLF(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return append(dst, src...)
		}
		if i > 0 && src[i-1] == '\r' {
			dst = append(dst, src[:i+1]...)
		} else {
			dst = append(dst, src[:i]...)
			dst = append(dst, '\r', '\n')
		}
		src = src[i+1:]
	}
	return dst
}

// WriteCRLF copies src to dst, turning every bare LF into CRLF, and returns
// the number of bytes written. It streams in 64 KiB blocks, so it suits
// BODY[] of large messages.
func WriteCRLF(dst io.Writer, src io.Reader) (int64, error) {
	in := make([]byte, blockSize)
	out := make([]byte, 0, 2*blockSize+1)
	var written int64
	prevCR := false
	for {
		n, rerr := src.Read(in)
		if n > 0 {
			b := in[:n]
			out = out[:0]
			if b[0] == '\n' && prevCR {
				// The CR was already written as the end of the last block.
				out = append(out, '\n')
				b = b[1:]
			}
			out = appendCRLF(out, b)
			prevCR = in[n-1] == '\r'
			m, werr := dst.Write(out)
			written += int64(m)
			if werr != nil {
				return written, fmt.Errorf("imapmsg: writing message: %w", werr)
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, fmt.Errorf("imapmsg: reading message: %w", rerr)
		}
	}
}

// readAll reads r to the end, sizing the buffer up front when r can tell
// its size (*os.File, *bytes.Reader, *strings.Reader).
func readAll(r io.Reader) ([]byte, error) {
	size := 0
	switch v := r.(type) {
	case interface{ Len() int }:
		size = v.Len()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < 1<<30 {
			size = int(fi.Size())
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("imapmsg: reading message: %w", err)
	}
	return buf.Bytes(), nil
}
