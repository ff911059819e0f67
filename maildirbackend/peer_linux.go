package maildirbackend

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerGone reports whether the client closed its side of the connection
// or the connection is gone: the socket's TCP state, read without taking
// anything from the socket (a pipelined command stays where it is, and a
// TLS close_notify does not hide the FIN behind it).
func peerGone(c net.Conn) bool {
	sc := socketOf(c)
	if sc == nil {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true // closed
	}
	gone := false
	cerr := rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.SOL_TCP, unix.TCP_INFO)
		if err != nil {
			return // not TCP (a unix socket in tests): unknown
		}
		switch info.State {
		case unix.BPF_TCP_CLOSE_WAIT, unix.BPF_TCP_CLOSE, unix.BPF_TCP_LAST_ACK, unix.BPF_TCP_TIME_WAIT:
			gone = true
		}
	})
	return gone || cerr != nil
}

// socketOf unwraps TLS, PROXY protocol and the listener's own wrappers
// down to the socket.
func socketOf(c net.Conn) syscall.Conn {
	for i := 0; c != nil && i < 16; i++ {
		if sc, ok := c.(syscall.Conn); ok {
			return sc
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}
