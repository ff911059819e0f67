package imapd

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Authentication: STARTTLS (RFC 9051 section 6.2.1), LOGIN, AUTHENTICATE
// with PLAIN (RFC 4616) and LOGIN (for old clients), SASL-IR (RFC 4959),
// and UNAUTHENTICATE (RFC 8437).

func init() {
	register(notAuth, handleStartTLS, "STARTTLS")
	register(notAuth, handleLogin, "LOGIN")
	register(notAuth, handleAuthenticate, "AUTHENTICATE")
	register(authed, handleUnauthenticate, "UNAUTHENTICATE")
}

const tlsHandshakeTimeout = 30 * time.Second

var (
	errPrivacyRequired = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired,
		Text: "Plaintext authentication is disabled: use STARTTLS"}
	errAuthCancelled = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Authentication cancelled"}
	errBadSASL       = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Invalid SASL response"}
)

func (c *Conn) canAuth() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tls || c.srv.opts.InsecureAuth
}

func handleStartTLS(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	c.mu.Lock()
	already := c.tls
	c.mu.Unlock()
	if already || c.srv.opts.TLSConfig == nil {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "TLS is not available or already active"}
	}
	if c.br.Buffered() > 0 {
		// Bytes sent after STARTTLS in the clear must not be run as
		// commands over TLS (CVE-2011-0411).
		c.close()
		return errors.New("data after STARTTLS")
	}
	if err := c.writeTagged(cmd.tag, &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "Begin TLS negotiation now"}); err != nil {
		return err
	}
	cmd.done = true
	tc := tls.Server(c.nc, c.srv.opts.TLSConfig)
	tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		c.close()
		return err
	}
	tc.SetDeadline(time.Time{})
	c.mu.Lock()
	c.tls = true
	c.raw = tc
	c.mu.Unlock()
	c.setTransport(tc)
	return nil
}

func handleLogin(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	user, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	pass, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if !c.canAuth() {
		return errPrivacyRequired
	}
	return c.login(cmd, user, pass)
}

// login checks credentials and, on success, enters the authenticated
// state with a tagged OK that lists the new capabilities.
func (c *Conn) login(cmd *command, user, pass string) error {
	if err := c.session.Login(user, pass); err != nil {
		return err
	}
	c.setState(imap.ConnStateAuthenticated)
	var sb strings.Builder
	sb.WriteString("CAPABILITY")
	for _, cp := range c.caps() {
		sb.WriteByte(' ')
		sb.WriteString(string(cp))
	}
	cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Code: imap.ResponseCode(sb.String()), Text: "Logged in"}
	cmd.noPoll = true
	return nil
}

func handleAuthenticate(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	mech, err := p.atom()
	if err != nil {
		return err
	}
	var initial []byte
	hasInitial, err := p.maybeSP()
	if err != nil {
		return err
	}
	if hasInitial {
		ir, err := p.run(func(b byte) bool { return isAtomChar(b) || b == '=' }, "initial response")
		if err != nil {
			return err
		}
		if initial, err = decodeSASL(ir); err != nil {
			return err
		}
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if !c.canAuth() {
		return errPrivacyRequired
	}
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if !hasInitial {
			if initial, err = c.saslChallenge(""); err != nil {
				return err
			}
		}
		parts := bytes.Split(initial, []byte{0})
		if len(parts) != 3 {
			return errBadSASL
		}
		authz := string(parts[0])
		user, pass = string(parts[1]), string(parts[2])
		if authz != "" && authz != user {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed,
				Text: "Logging in as another user is not supported"}
		}
	case "LOGIN":
		if hasInitial {
			user = string(initial)
		} else {
			b, err := c.saslChallenge("VXNlcm5hbWU6") // "Username:"
			if err != nil {
				return err
			}
			user = string(b)
		}
		b, err := c.saslChallenge("UGFzc3dvcmQ6") // "Password:"
		if err != nil {
			return err
		}
		pass = string(b)
	default:
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism"}
	}
	return c.login(cmd, user, pass)
}

// saslChallenge sends "+ challenge" and reads the client's base64 line.
func (c *Conn) saslChallenge(challenge string) ([]byte, error) {
	c.enc.lock()
	c.enc.raw("+ ").raw(challenge).crlf()
	err := c.enc.flushLocked()
	c.enc.unlock()
	if err != nil {
		return nil, err
	}
	c.lineDeadline()
	p := &parser{c: c, br: c.br}
	line, err := p.run(func(b byte) bool { return b != '\r' && b != '\n' }, "SASL response")
	if err != nil {
		var se *syntaxError
		if !errors.As(err, &se) {
			return nil, err
		}
		line = ""
	}
	if err := p.crlf(); err != nil {
		return nil, err
	}
	if line == "*" {
		return nil, errAuthCancelled
	}
	return decodeSASL(line)
}

func decodeSASL(s string) ([]byte, error) {
	if s == "=" || s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadSASL
	}
	return b, nil
}

func handleUnauthenticate(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	s, ok := c.session.(SessionUnauthenticate)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "UNAUTHENTICATE is not supported"}
	}
	c.setNotify(nil)
	if err := s.Unauthenticate(); err != nil {
		return err
	}
	c.setState(imap.ConnStateNotAuthenticated)
	cmd.noPoll = true
	return nil
}
