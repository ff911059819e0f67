// Package proxyproto reads the PROXY protocol header (versions 1 and 2,
// haproxy's proxy-protocol.txt) that a proxy in front of the server, such
// as nginx's mail proxy with "proxy_protocol on", sends before the
// client's first byte, so that the server sees the client's address
// instead of the proxy's.
//
// [NewListener] wraps a net.Listener: connections from the trusted
// proxies must start with a header, which is read within a deadline in a
// goroutine of its own (a silent peer delays no other connection), and
// their RemoteAddr is the client's; connections from any other address are
// served as they are, but one whose first bytes are a PROXY header is
// closed (an untrusted peer must not choose the address the server logs
// and throttles).
package proxyproto
