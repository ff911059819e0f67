package maildirbackend

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ConnLimiter caps the connections of one or more listeners: in total, and
// per client address (an IPv4 address, or the /64 prefix of an IPv6
// address, since one IPv6 host usually holds a whole /64). A nil
// *ConnLimiter allows everything. It is safe for concurrent use.
type ConnLimiter struct {
	max, perAddr int // immutable; 0: no cap

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int
}

// NewConnLimiter returns a ConnLimiter for at most max connections in all
// and perAddr from one client address; zero (or negative) means no cap.
func NewConnLimiter(max, perAddr int) *ConnLimiter {
	return &ConnLimiter{max: max, perAddr: perAddr, byAddr: make(map[netip.Addr]int)}
}

// Open returns the number of connections currently counted.
func (l *ConnLimiter) Open() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// acquire counts a connection from addr. It returns the function that
// gives the slot back (call it once), or, when a cap is reached, a reason
// for the client and no function.
func (l *ConnLimiter) acquire(addr net.Addr) (release func(), reason string) {
	if l == nil {
		return func() {}, ""
	}
	key := clientKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return nil, fmt.Sprintf("Too many connections to this server (max_connections=%d)", l.max)
	}
	if l.perAddr > 0 && key.IsValid() && l.byAddr[key] >= l.perAddr {
		return nil, fmt.Sprintf("Maximum number of connections from your address exceeded (max_connections_per_ip=%d)", l.perAddr)
	}
	l.total++
	if key.IsValid() {
		l.byAddr[key]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if key.IsValid() {
				if l.byAddr[key]--; l.byAddr[key] <= 0 {
					delete(l.byAddr, key)
				}
			}
		})
	}, ""
}

// clientKey returns the address that caps and throttles count a client
// by: the IPv4 address, or the /64 of an IPv6 address. It is the zero Addr
// for a connection that is not IP (a Unix socket, a test pipe).
func clientKey(addr net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case nil:
		return netip.Addr{}
	default:
		var err error
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return netip.Addr{}
		}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
