package lmtp

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

// recipient is one accepted RCPT TO.
type recipient struct {
	to      string // as the client wrote it: the key of its status
	user    string // resolved user name
	root    string // Maildir root
	mailbox string // detail mailbox, "" for INBOX
}

// session is one LMTP transaction sequence of a connection.
type session struct {
	s     *Server
	from  string
	rcpts []recipient
}

// Replies, as Dovecot's LMTP words them where it has one.
var (
	errUnknownUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User doesn't exist"}
	errNoSpace     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
	errTooBig      = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	errLongLine    = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Line too long"}
	errTempFail    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary internal failure"}
)

func (x *session) Reset() {
	x.from = ""
	x.rcpts = nil
}

func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

// Rcpt resolves the recipient now, so that an unknown one is refused
// before the data and the others are still delivered.
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr, detail := SplitDetail(to, x.s.opts.RecipientDelimiter)
	user, root, err := x.s.opts.Lookup(addr)
	if errors.Is(err, ErrUnknownUser) {
		x.s.log.Info("lmtp: unknown recipient", "rcpt", to)
		return errUnknownUser
	}
	if err != nil {
		x.s.log.Error("lmtp: resolving recipient", "rcpt", to, "err", err)
		return errTempFail
	}
	r := recipient{to: to, user: user, root: root}
	if x.s.opts.DetailMailbox {
		r.mailbox = detail
	}
	x.rcpts = append(x.rcpts, r)
	return nil
}

// Data is not used in LMTP mode (LMTPData is); it delivers with one status
// for all.
func (x *session) Data(r io.Reader) error {
	var first error
	x.deliverAll(r, func(_ string, err error) {
		if first == nil {
			first = err
		}
	})
	return first
}

// LMTPData spools the message once and delivers a copy to each recipient,
// with a status for each.
func (x *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	x.deliverAll(r, status.SetStatus)
	return nil
}

// deliverAll spools r and delivers it to every recipient, calling set once
// per recipient, in order.
func (x *session) deliverAll(r io.Reader, set func(rcpt string, err error)) {
	sp, err := spool(r)
	if err != nil {
		reply := errTempFail
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se):
			reply = se // go-smtp's 552 5.3.4 for an oversized message
		case errors.Is(err, smtp.ErrTooLongLine):
			reply = errLongLine
		default:
			x.s.log.Error("lmtp: reading message", "err", err)
		}
		for _, rc := range x.rcpts {
			set(rc.to, reply)
		}
		return
	}
	defer sp.Close()
	for _, rc := range x.rcpts {
		set(rc.to, x.deliverOne(sp, rc))
	}
}

// deliverOne delivers one copy, with Return-Path and Delivered-To headers
// as Dovecot's LMTP adds them, and maps the outcome to a reply.
func (x *session) deliverOne(sp *spooled, rc recipient) error {
	body, err := sp.Reader()
	if err != nil {
		x.s.log.Error("lmtp: rereading spooled message", "err", err)
		return errTempFail
	}
	hdr := fmt.Sprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", headerSafe(x.from), headerSafe(rc.to))
	mailbox, err := x.s.opts.Deliver(rc.root, rc.mailbox, io.MultiReader(strings.NewReader(hdr), body))
	if err == nil {
		x.s.log.Info("lmtp: delivered", "user", rc.user, "rcpt", rc.to, "mailbox", mailbox, "size", sp.Size())
		return nil
	}
	reply := deliveryReply(err)
	if errors.Is(err, maildirbackend.ErrOverQuota) {
		reply = x.overQuota()
	}
	x.s.log.Warn("lmtp: delivery failed", "user", rc.user, "rcpt", rc.to, "code", reply.Code, "err", err)
	return reply
}

// deliveryReply maps a failure of Deliver to its LMTP reply.
func deliveryReply(err error) *smtp.SMTPError {
	switch {
	case errors.Is(err, maildirbackend.ErrNoSpace):
		return errNoSpace
	case errors.Is(err, maildirbackend.ErrMessageTooBig):
		return errTooBig
	}
	return errTempFail
}

// headerSafe drops line breaks from a value placed in a header.
func headerSafe(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// overQuota is Dovecot's reply for a recipient over quota
// (lmtp_local_rcpt_reply_overquota): permanent unless QuotaFullTempfail.
// go-smtp puts "<rcpt> " first, as Dovecot's smtp_server_recipient_reply.
func (x *session) overQuota() *smtp.SMTPError {
	e := &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2},
		Message: "Quota exceeded (mailbox for user is full)"}
	if x.s.opts.QuotaFullTempfail {
		e.Code, e.EnhancedCode = 452, smtp.EnhancedCode{4, 2, 2}
	}
	return e
}
