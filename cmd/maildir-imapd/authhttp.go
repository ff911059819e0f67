package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// nginx's auth_http protocol (nginx.org docs, ngx_mail_auth_http_module):
// for each login the mail proxy sends a GET with the credentials in
// Auth-User/Auth-Pass (URL-escaped), Auth-Method, Auth-Protocol,
// Auth-Login-Attempt and Client-IP, and reads the answer from the response
// headers only: "Auth-Status: OK" with Auth-Server (an IP address) and
// Auth-Port, or any other Auth-Status text, which it shows the client,
// with Auth-Wait: N to sleep N seconds and let the client try again, or
// without it to close the connection.

const (
	// defaultBackendPort is the port of a backend given without one.
	defaultBackendPort = "143"
	// statusInvalid is nginx's own example text, which clients show.
	statusInvalid = "Invalid login or password"
	// statusTemporary answers a login that cannot be routed.
	statusTemporary = "Temporary server problem, try again later"
)

// authHTTP answers nginx's auth_http requests. It checks passwords as IMAP
// logins do, through the backend's login protection, and names the backend
// that serves the user.
type authHTTP struct {
	backend     *maildirbackend.Backend
	verify      func(name, password string) (*passwdfile.User, error)
	routes      *backendMap
	trusted     []netip.Prefix // who may ask; empty: loopback
	maxAttempts int            // the last attempt is answered without Auth-Wait
	log         *slog.Logger
	metrics     loginCounter
	sleep       func(time.Duration)
}

// loginCounter counts login results (the metrics package; may be a no-op).
type loginCounter interface {
	Login(result string)
}

func (h *authHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.fromTrusted(r.RemoteAddr) {
		h.log.Warn("auth_http request refused: not from a trusted proxy", "conn", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	user, pass, problem := parseAuthRequest(r.Header)
	if problem != "" {
		h.answerFailure(w, failure{text: problem}, user)
		return
	}
	addr, f := h.login(r, user, pass)
	if f != nil {
		h.answerFailure(w, *f, user)
		return
	}
	h.log.Info("auth_http login", "user", user, "conn", r.Header.Get("Client-IP"), "backend", addr.String())
	hdr := w.Header()
	hdr.Set("Auth-Status", "OK")
	hdr.Set("Auth-Server", addr.Addr().String())
	hdr.Set("Auth-Port", strconv.Itoa(int(addr.Port())))
	w.WriteHeader(http.StatusOK)
}

// failure is a refused auth_http request.
type failure struct {
	text  string    // Auth-Status, shown to the client
	at    time.Time // when to answer; zero: at once
	retry bool      // with Auth-Wait: nginx lets the client try again
}

// parseAuthRequest returns the credentials of a request, or the
// Auth-Status of a request this service does not answer.
func parseAuthRequest(h http.Header) (user, pass, problem string) {
	user, pass, err := credentials(h)
	switch {
	case err != nil:
		return "", "", err.Error()
	case !strings.EqualFold(h.Get("Auth-Protocol"), "imap"):
		return user, "", "Unsupported protocol"
	}
	switch strings.ToLower(h.Get("Auth-Method")) {
	case "plain", "login":
		return user, pass, ""
	}
	// cram-md5 and apop need the password in clear on our side, and
	// external a client certificate: none of them is offered.
	return user, "", "Unsupported authentication method"
}

// login checks the credentials through the backend's login guard and
// returns the user's backend, or the failure to answer.
func (h *authHTTP) login(r *http.Request, user, pass string) (netip.AddrPort, *failure) {
	var u *passwdfile.User
	answerAt, err := h.backend.CheckLogin(clientAddr(r.Header.Get("Client-IP")), user, func() error {
		var err error
		u, err = h.verify(user, pass)
		return authError(err)
	})
	if err != nil {
		h.metrics.Login(loginResult(err))
		f := &failure{text: statusInvalid, at: answerAt}
		if ie := (*imap.Error)(nil); !errors.Is(err, imapserver.ErrAuthFailed) && errors.As(err, &ie) {
			f.text = ie.Text // throttled, or the users file failed
		}
		attempt, _ := strconv.Atoi(r.Header.Get("Auth-Login-Attempt"))
		f.retry = attempt < h.maxAttempts
		return netip.AddrPort{}, f
	}
	addr, err := h.routes.route(r, u)
	if err != nil {
		h.metrics.Login("error")
		h.log.Error("auth_http: no backend for user", "user", user, "err", err)
		return netip.AddrPort{}, &failure{text: statusTemporary}
	}
	h.metrics.Login("ok")
	return addr, nil
}

// answerFailure answers f so that the client gets it at f.at, when an IMAP
// login would have got it: with f.retry, it sleeps the fraction of the wait
// that nginx's whole-second Auth-Wait cannot express and leaves the rest to
// nginx; without, there is no Auth-Wait, it sleeps all of it, and nginx
// closes the connection after the answer (the last attempt, as the BYE
// after the last failed IMAP login).
func (h *authHTTP) answerFailure(w http.ResponseWriter, f failure, user string) {
	remaining := max(time.Until(f.at), 0)
	hdr := w.Header()
	hdr.Set("Auth-Status", f.text)
	wait := 0
	if f.retry {
		whole := remaining.Truncate(time.Second)
		if whole < time.Second {
			// nginx closes the connection on an Auth-Wait of 0.
			whole = time.Second
		}
		h.sleep(remaining - min(whole, remaining))
		wait = int(whole / time.Second)
		hdr.Set("Auth-Wait", strconv.Itoa(wait))
	} else {
		h.sleep(remaining)
	}
	h.log.Debug("auth_http refused", "user", user, "status", f.text, "auth_wait", wait)
	w.WriteHeader(http.StatusOK)
}

// fromTrusted reports whether remote (host:port) may ask: a trusted proxy
// or, with none configured, loopback.
func (h *authHTTP) fromTrusted(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if len(h.trusted) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range h.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// credentials returns the user and password of a request. nginx escapes
// both as a URI component (ngx_escape_uri's mail_auth table: space, %,
// control characters); '+' stays a plus.
func credentials(h http.Header) (user, pass string, err error) {
	user, err1 := url.PathUnescape(h.Get("Auth-User"))
	pass, err2 := url.PathUnescape(h.Get("Auth-Pass"))
	if err1 != nil || err2 != nil || user == "" {
		return "", "", errors.New(statusInvalid)
	}
	return user, pass, nil
}

// clientAddr parses nginx's Client-IP; nil when absent or malformed (no
// per-address throttle then).
func clientAddr(s string) net.Addr {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
}

// loginResult names the result of a failed login for the metrics.
func loginResult(err error) string {
	if errors.Is(err, imapserver.ErrAuthFailed) {
		return "failed"
	}
	return "refused"
}

// backendMap names each user's backend: the user's own host= and port=
// extra fields, else the first of user@domain, domain and "*" in the map.
type backendMap struct {
	entries  map[string]string // key: user, domain or "*"; value: host:port
	resolver *net.Resolver
}

// parseBackends parses Config.Backends.
func parseBackends(list []string) (*backendMap, error) {
	m := &backendMap{entries: make(map[string]string), resolver: net.DefaultResolver}
	for _, e := range list {
		key, addr, ok := strings.Cut(e, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return nil, fmt.Errorf("backends: %q: want user@domain=host:port, domain=host:port or *=host:port", e)
		}
		hp, err := hostPort(strings.TrimSpace(addr), "")
		if err != nil {
			return nil, fmt.Errorf("backends: %q: %w", e, err)
		}
		if _, dup := m.entries[key]; dup {
			return nil, fmt.Errorf("backends: %q given twice", key)
		}
		m.entries[key] = hp
	}
	return m, nil
}

// hostPort returns host:port from "host", "host:port" or "[v6]:port";
// port, if not empty, is the port for a bare host (else 143).
func hostPort(s, port string) (string, error) {
	if port == "" {
		port = defaultBackendPort
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		s, port = h, p
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("bad port %q", port)
	}
	if s == "" || strings.ContainsAny(s, "/ ") {
		return "", fmt.Errorf("bad host %q", s)
	}
	return net.JoinHostPort(s, port), nil
}

// route returns the backend of u as an IP address and port (nginx takes
// no host names), resolving a host name if need be.
func (m *backendMap) route(r *http.Request, u *passwdfile.User) (netip.AddrPort, error) {
	addr, err := m.lookup(u)
	if err != nil {
		return netip.AddrPort{}, err
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.ParseUint(port, 10, 16)
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
	}
	ips, err := m.resolver.LookupNetIP(r.Context(), "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving backend %q: %w", host, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

// lookup returns the host:port of u's backend.
func (m *backendMap) lookup(u *passwdfile.User) (string, error) {
	if host := u.Extra["host"]; host != "" {
		return hostPort(host, u.Extra["port"])
	}
	name := strings.ToLower(u.Name)
	keys := []string{name}
	if _, domain, ok := strings.Cut(name, "@"); ok {
		keys = append(keys, domain)
	}
	for _, k := range append(keys, "*") {
		if addr, ok := m.entries[k]; ok {
			return addr, nil
		}
	}
	return "", errors.New(`no host= field and no entry in backends (add "*=host:port" for a default)`)
}

// parseTrusted parses Config.ProxyTrusted: CIDR networks or single
// addresses.
func parseTrusted(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("proxy-trusted: %q is neither a network (CIDR) nor an address", s)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// validateProxy checks the settings of auth_http, PROXY protocol and
// metrics.
func (c *Config) validateProxy() []error {
	var errs []error
	for _, a := range []struct{ name, addr string }{{"auth-http-listen", c.AuthHTTPListen}, {"metrics-listen", c.MetricsListen}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.name, a.addr, err))
		}
	}
	if _, err := parseBackends(c.Backends); err != nil {
		errs = append(errs, err)
	}
	if _, err := parseTrusted(c.ProxyTrusted); err != nil {
		errs = append(errs, err)
	}
	return errs
}
