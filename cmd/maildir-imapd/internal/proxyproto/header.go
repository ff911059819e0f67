package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Header lengths and signatures (proxy-protocol.txt sections 2.1 and 2.2).
const (
	// maxV1 is the longest version 1 header, CRLF included.
	maxV1 = 107
	// maxV2Body bounds the address and TLV block of a version 2 header; the
	// specification allows 65535, nginx and haproxy send far less.
	maxV2Body = 4096
)

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// ErrNoHeader means that a connection from a trusted proxy did not start
// with a PROXY header.
var ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")

// ErrBadHeader is wrapped by every error about a malformed header.
var ErrBadHeader = errors.New("proxyproto: malformed header")

// Header is what a PROXY header says. Source and Destination are invalid
// (the zero netip.AddrPort) for a version 1 "UNKNOWN" header and for a
// version 2 LOCAL command or an unsupported address family: the connection
// then speaks for itself (a proxy's health check), and its own addresses
// stand.
type Header struct {
	Version     int // 1 or 2
	Source      netip.AddrPort
	Destination netip.AddrPort
}

// readHeader reads one PROXY header, version 1 or 2, from r. It returns
// ErrNoHeader when the first bytes match neither signature.
func readHeader(r *bufio.Reader) (Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, fmt.Errorf("proxyproto: reading header: %w", err)
	}
	switch first[0] {
	case sigV1[0]:
		if err := expect(r, sigV1); err != nil {
			return Header{}, err
		}
		return readV1(r)
	case sigV2[0]:
		if err := expect(r, sigV2); err != nil {
			return Header{}, err
		}
		return readV2(r)
	}
	return Header{}, ErrNoHeader
}

// expect peeks at len(sig) bytes and consumes them if they are sig.
func expect(r *bufio.Reader, sig []byte) error {
	b, err := r.Peek(len(sig))
	if err != nil && !bytes.HasPrefix(sig, b) {
		return ErrNoHeader
	}
	if err != nil {
		return fmt.Errorf("proxyproto: reading header: %w", err)
	}
	if !bytes.Equal(b, sig) {
		return ErrNoHeader
	}
	_, _ = r.Discard(len(sig))
	return nil
}

// readV1 parses the rest of a version 1 header after "PROXY ":
// "TCP4 src dst sport dport\r\n", the same with TCP6, or "UNKNOWN ...\r\n".
func readV1(r *bufio.Reader) (Header, error) {
	var line []byte
	for len(line) < maxV1-len(sigV1) {
		c, err := r.ReadByte()
		if err != nil {
			return Header{}, fmt.Errorf("proxyproto: reading v1 header: %w", err)
		}
		line = append(line, c)
		if c == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return Header{}, fmt.Errorf("%w: v1 line not ended by CRLF within %d bytes", ErrBadHeader, maxV1)
	}
	h := Header{Version: 1}
	f := strings.Split(s, " ")
	switch f[0] {
	case "UNKNOWN":
		return h, nil // the receiver must ignore the rest of the line
	case "TCP4", "TCP6":
	default:
		return Header{}, fmt.Errorf("%w: v1 protocol %q", ErrBadHeader, f[0])
	}
	if len(f) != 5 {
		return Header{}, fmt.Errorf("%w: v1 line has %d fields, want 5", ErrBadHeader, len(f))
	}
	src, err := v1AddrPort(f[0], f[1], f[3])
	if err != nil {
		return Header{}, err
	}
	dst, err := v1AddrPort(f[0], f[2], f[4])
	if err != nil {
		return Header{}, err
	}
	h.Source, h.Destination = src, dst
	return h, nil
}

// v1AddrPort parses one address and port of a version 1 line; the address
// must be of the family proto names.
func v1AddrPort(proto, addr, port string) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" || ip.Is4() != (proto == "TCP4") {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 %s address %q", ErrBadHeader, proto, addr)
	}
	// A port is 0 to 65535 in decimal, without a sign or leading zeros.
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (len(port) > 1 && port[0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 port %q", ErrBadHeader, port)
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// readV2 parses the rest of a version 2 header after its signature.
func readV2(r *bufio.Reader) (Header, error) {
	var fixed [4]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return Header{}, fmt.Errorf("proxyproto: reading v2 header: %w", err)
	}
	verCmd, fam, n := fixed[0], fixed[1], int(binary.BigEndian.Uint16(fixed[2:]))
	if verCmd>>4 != 2 {
		return Header{}, fmt.Errorf("%w: v2 version %d", ErrBadHeader, verCmd>>4)
	}
	if n > maxV2Body {
		return Header{}, fmt.Errorf("%w: v2 length %d over %d", ErrBadHeader, n, maxV2Body)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, fmt.Errorf("proxyproto: reading v2 addresses: %w", err)
	}
	h := Header{Version: 2}
	switch verCmd & 0xf {
	case 0x0: // LOCAL: the proxy's own connection; addresses are ignored
		return h, nil
	case 0x1: // PROXY
	default:
		return Header{}, fmt.Errorf("%w: v2 command %#x", ErrBadHeader, verCmd&0xf)
	}
	var size int
	switch fam {
	case 0x11: // TCP over IPv4
		size = 4
	case 0x21: // TCP over IPv6
		size = 16
	default:
		// UNSPEC, UDP, unix sockets: nothing this server can use.
		return h, nil
	}
	if n < 2*size+4 {
		return Header{}, fmt.Errorf("%w: v2 length %d too short for family %#x", ErrBadHeader, n, fam)
	}
	src, _ := netip.AddrFromSlice(body[:size])
	dst, _ := netip.AddrFromSlice(body[size : 2*size])
	ports := body[2*size:]
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	return h, nil
}

// startsWithSignature reports whether b, the first bytes a peer sent, is a
// PROXY header signature or could still become one (b shorter than the
// signature it begins).
func startsWithSignature(b []byte) (match, undecided bool) {
	for _, sig := range [][]byte{sigV1, sigV2} {
		k := min(len(b), len(sig))
		if bytes.Equal(b[:k], sig[:k]) {
			if k == len(sig) {
				return true, false
			}
			undecided = true
		}
	}
	return false, undecided
}

// tcpAddr converts an address of a header into the net.Addr RemoteAddr
// returns.
func tcpAddr(ap netip.AddrPort) net.Addr {
	return net.TCPAddrFromAddrPort(ap)
}
