package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// lmtpSocketMode lets Postfix's lmtp(8), running as another user, connect,
// as Dovecot's default unix_listener mode; the directory (Postfix's
// private/, 0700) restricts who reaches the socket.
const lmtpSocketMode = 0o666

// listenLMTP binds --lmtp-listen: a unix socket for an absolute path (a
// stale socket left by a crash is replaced), else a TCP address.
func listenLMTP(addr string) (net.Listener, error) {
	if !filepath.IsAbs(addr) {
		var lc net.ListenConfig
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("lmtp-listen: %w", err)
		}
		return ln, nil
	}
	if fi, err := os.Lstat(addr); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("lmtp-listen %s: exists and is not a socket", addr)
		}
		if err := os.Remove(addr); err != nil {
			return nil, fmt.Errorf("lmtp-listen: removing the old socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, fmt.Errorf("lmtp-listen: %w", err)
	}
	if err := os.Chmod(addr, lmtpSocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("lmtp-listen: %w", err)
	}
	return ln, nil
}

// startLMTP binds the LMTP listener of cfg and returns the server and a
// function that starts serving (after the privileges are dropped).
func (d *daemon) startLMTP(cfg *Config) (func(), error) {
	lookup, err := newRecipientLookup(cfg, d.log, d.locations)
	if err != nil {
		return nil, err
	}
	ln, err := listenLMTP(cfg.LMTPListen)
	if err != nil {
		return nil, err
	}
	d.listeners = append(d.listeners, ln)
	d.lmtpAddr = ln.Addr().String()
	limit := int64(cfg.AppendLimit)
	if limit == 0 {
		limit = maildirbackend.DefaultAppendLimit
	}
	d.lmtp = lmtp.New(&lmtp.Options{
		Lookup:             lookup,
		Deliver:            d.deliver,
		DetailMailbox:      cfg.LMTPDetailMailbox,
		RecipientDelimiter: cfg.RecipientDelimiter,
		MaxMessageBytes:    limit,
		QuotaFullTempfail:  cfg.QuotaFullTempfail,
		Logger:             d.log,
	})
	return func() {
		d.log.Info("listening", "addr", d.lmtpAddr, "protocol", "lmtp", "detail_mailbox", cfg.LMTPDetailMailbox)
		d.serving.Add(1)
		go func() {
			defer d.serving.Done()
			if err := d.lmtp.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				d.serveErr <- fmt.Errorf("serve lmtp %s: %w", d.lmtpAddr, err)
			}
		}()
	}, nil
}

// recipientLookup resolves a recipient address (without +detail) to the
// user's name and Maildir root, or lmtp.ErrUnknownUser.
type recipientLookup func(address string) (user, root string, err error)

// newRecipientLookup returns the recipient resolution of cfg: the users
// file (the address, then its local part for users written without a
// domain, as Postfix's local(8) does), or the single user.
func newRecipientLookup(cfg *Config, logger *slog.Logger, locs *mailLocations) (recipientLookup, error) {
	if cfg.Users != "" {
		db, err := passwdfile.OpenDB(cfg.Users, logger)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		return usersLookup(db.Lookup, locs), nil
	}
	_, maildir, err := singleUser(cfg)
	if err != nil {
		return nil, err
	}
	return func(address string) (string, string, error) {
		if !sameUser(address, cfg.User) {
			return "", "", lmtp.ErrUnknownUser
		}
		return cfg.User, maildir, nil
	}, nil
}

// usersLookup resolves addresses through a passwd-file's users.
func usersLookup(lookup func(name string) (*passwdfile.User, bool), locs *mailLocations) recipientLookup {
	return func(address string) (string, string, error) {
		u, ok := lookup(address)
		if local, _, hasDomain := strings.Cut(address, "@"); !ok && hasDomain && local != "" {
			u, ok = lookup(local)
		}
		if !ok {
			return "", "", lmtp.ErrUnknownUser
		}
		if err := checkOwner(u, os.Getuid()); err != nil {
			return "", "", err
		}
		root, err := locs.maildir(u)
		if err != nil {
			return "", "", err
		}
		return u.Name, root, nil
	}
}

// sameUser reports whether address names user: equal ignoring case, or a
// user without domain equal to the address's local part.
func sameUser(address, user string) bool {
	if strings.EqualFold(address, user) {
		return true
	}
	local, _, hasDomain := strings.Cut(address, "@")
	return hasDomain && !strings.Contains(user, "@") && strings.EqualFold(local, user)
}

// deliver is the LMTP server's DeliverFunc: the backend's, counted in the
// metrics.
func (d *daemon) deliver(root, mailbox string, r io.Reader) (string, error) {
	mb, err := d.backend.Deliver(root, mailbox, r)
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, maildirbackend.ErrMessageTooBig):
		result = "permanent"
	case errors.Is(err, maildirbackend.ErrNoSpace):
		result = "temporary"
	case errors.Is(err, maildirbackend.ErrOverQuota):
		result = "over_quota"
	default:
		result = "temporary" // answered 451
	}
	d.metrics.LMTPDelivery(result)
	return mb, err
}
