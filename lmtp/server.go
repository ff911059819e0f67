package lmtp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrUnknownUser is what [Options.Lookup] returns (or wraps) for an address
// that has no mailbox here.
var ErrUnknownUser = errors.New("unknown user")

// DeliverFunc stores a message in mailbox ("" for INBOX) of the Maildir at
// root and returns the mailbox used. [maildirbackend.Backend.Deliver] is one.
type DeliverFunc func(root, mailbox string, r io.Reader) (string, error)

// Options configures a [Server]. Lookup and Deliver are required.
type Options struct {
	// Lookup resolves a recipient address, without its +detail, to the
	// user's name (for logs and Delivered-To) and Maildir root. It returns
	// ErrUnknownUser for an address that has no mailbox. It must be safe
	// for concurrent use.
	Lookup func(address string) (user, root string, err error)
	// Deliver stores one copy of the message.
	Deliver DeliverFunc
	// DetailMailbox saves mail for user+detail@domain into mailbox
	// "detail" when it exists (INBOX otherwise), as Dovecot's
	// lmtp_save_to_detail_mailbox. False delivers to INBOX.
	DetailMailbox bool
	// RecipientDelimiter separates the user from the detail in a local
	// part, as Dovecot's recipient_delimiter: each of its characters is a
	// delimiter. "" means "+".
	RecipientDelimiter string
	// MaxMessageBytes bounds a message; a larger one is refused with
	// 552 5.3.4. Zero means no bound.
	MaxMessageBytes int64
	// QuotaFullTempfail answers a recipient over quota with 452 4.2.2
	// (the MTA retries) instead of 552 5.2.2 (a bounce), as Dovecot's
	// quota_full_tempfail.
	QuotaFullTempfail bool
	// Hostname is the name in the greeting. "" means os.Hostname.
	Hostname string
	// Logger receives one line per delivery. Nil means slog.Default().
	Logger *slog.Logger
}

// maxRecipients bounds the recipients of one transaction.
const maxRecipients = 1000

// maxLineLength bounds a line of the conversation and of a message. RFC
// 5322 allows 998 bytes and Postfix folds longer lines, but a local MTA
// may relay what it was given.
const maxLineLength = 1 << 20

// ioTimeout bounds each read and write of a connection.
const ioTimeout = 5 * time.Minute

// Server is an LMTP server. Create it with [New], run it with Serve and
// stop it with Close.
type Server struct {
	opts Options
	log  *slog.Logger
	srv  *smtp.Server
}

// New returns a server for opts.
func New(opts *Options) *Server {
	s := &Server{opts: *opts}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opts.RecipientDelimiter == "" {
		s.opts.RecipientDelimiter = "+"
	}
	host := s.opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.LMTP = true
	srv.Domain = host
	srv.MaxMessageBytes = s.opts.MaxMessageBytes
	srv.MaxRecipients = maxRecipients
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = ioTimeout
	srv.WriteTimeout = ioTimeout
	srv.ErrorLog = errorLog{s.log}
	s.srv = srv
	return s
}

// Serve accepts LMTP connections on ln until Close; it returns
// net.ErrClosed after Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, smtp.ErrServerClosed) {
		return net.ErrClosed
	}
	return err
}

// Close stops the listeners and closes every connection. A transaction
// whose reply was not sent is retried by the MTA.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s}, nil
}

// SplitDetail splits the local part of address at the first of the
// characters of delim (Dovecot's recipient_delimiter, where each character
// is a delimiter): with "+", "alice+work@example.org" gives
// "alice@example.org" and "work". An address without a delimiter, or
// starting with one, has no detail.
func SplitDetail(address, delim string) (string, string) {
	local, domain, hasDomain := strings.Cut(address, "@")
	i := strings.IndexAny(local, delim)
	if i <= 0 {
		return address, ""
	}
	user, detail := local[:i], local[i+1:]
	if hasDomain {
		return user + "@" + domain, detail
	}
	return user, detail
}

// errorLog gives go-smtp's connection errors to slog.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Printf(format string, v ...any) { l.log.Warn("lmtp: " + fmt.Sprintf(format, v...)) }
func (l errorLog) Println(v ...any)               { l.log.Warn("lmtp: " + fmt.Sprintln(v...)) }
