package maildirbackend

import (
	"context"
	"time"
)

// peerProbeInterval is how often a long command looks whether its client
// is still there.
const peerProbeInterval = 100 * time.Millisecond

// commandContext returns a context for a long command (SEARCH) that ends
// when the client is found gone, and the function that releases it (call
// it when the command ends). No client I/O happens: the connection's
// socket state is probed every peerProbeInterval.
func (s *Session) commandContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if s.conn == nil {
		return ctx, cancel
	}
	nc := s.conn.NetConn()
	if nc == nil {
		return ctx, cancel
	}
	go func() {
		t := time.NewTicker(peerProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if peerGone(nc) {
					s.b.log.Debug("client gone, command cancelled", "conn", s.remote())
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}
