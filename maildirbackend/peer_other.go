//go:build !linux

package maildirbackend

import "net"

// peerGone reports false: only Linux's TCP_INFO tells it without reading.
func peerGone(net.Conn) bool { return false }
