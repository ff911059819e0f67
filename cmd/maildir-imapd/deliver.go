package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"

	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// Exit codes of deliver, from sysexits.h, as Postfix's local(8) and pipe(8)
// read them: EX_TEMPFAIL and EX_CONFIG defer the message, the others
// bounce it.
const (
	exOK       = 0
	exUsage    = 64 // EX_USAGE: bad command line
	exDataErr  = 65 // EX_DATAERR: the message exceeds append_limit
	exNoUser   = 67 // EX_NOUSER: unknown user
	exTempFail = 75 // EX_TEMPFAIL: full disk, I/O error: try again later
	exNoPerm   = 77 // EX_NOPERM: over quota (Dovecot's LDA with -e)
	exConfig   = 78 // EX_CONFIG: the configuration is wrong: deferred
)

// deliverArgs are the LDA flags of deliver, named as Dovecot's.
type deliverArgs struct {
	user    string // -d: the user ("" means $USER, then the process's user)
	mailbox string // -m: the mailbox ("" means INBOX)
	sender  string // -f: the envelope sender, for the log
	address string // -a: the original recipient, whose +detail may name the mailbox
}

// runDeliver is the `deliver` subcommand: Dovecot's LDA (dovecot-lda,
// deliver) for Postfix's mailbox_command or a pipe(8) transport. It reads
// one message on stdin and stores it in the user's Maildir.
func runDeliver(args []string) error {
	return deliverMain(args, os.Stdin, os.Stderr)
}

// deliverMain runs deliver with the message on in and logs on logw. Its
// error is an *exitError carrying the sysexits code, or a help request.
func deliverMain(args []string, in io.Reader, logw io.Writer) error {
	var da deliverArgs
	cfg, err := parseConfigWith("deliver", args, func(fs *flag.FlagSet) {
		fs.StringVar(&da.user, "d", da.user, "deliver to `user` (default $USER); a +detail is removed")
		fs.StringVar(&da.mailbox, "m", da.mailbox, "deliver into `mailbox` (INBOX when it does not exist)")
		fs.StringVar(&da.sender, "f", da.sender, "envelope `sender` (logged)")
		fs.StringVar(&da.address, "a", da.address, "original recipient `address`; with lmtp-detail-mailbox its +detail names the mailbox")
		fs.Bool("e", false, "accepted for Dovecot's LDA: failures always go to stderr with a sysexits code")
	})
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &exitError{code: exUsage, err: err}
	}
	// Postfix logs each delivery and puts the command's output in bounces:
	// deliver says only what goes wrong, unless asked for debug.
	level := cfg.LogLevel
	if level == defaultLogLevel {
		level = "warn"
	}
	logger, err := newLogger(logw, level, cfg.LogFormat)
	if err != nil {
		return &exitError{code: exConfig, err: err}
	}
	if da.user == "" {
		da.user = os.Getenv("USER")
	}
	name, detail := lmtp.SplitDetail(da.user, cfg.RecipientDelimiter)
	if da.address != "" {
		_, detail = lmtp.SplitDetail(da.address, cfg.RecipientDelimiter)
	}
	mailbox := da.mailbox
	if mailbox == "" && cfg.LMTPDetailMailbox {
		mailbox = detail
	}
	locs := newMailLocations(cfg, logger)
	root, err := deliverRoot(cfg, name, logger, locs)
	if err != nil {
		return err
	}
	got, err := maildirbackend.Deliver(root, mailbox, skipFromLine(in), &maildirbackend.Options{
		Logger: logger, Prefix: cfg.Prefix, UTF8FolderNames: cfg.utf8Names(), AppendLimit: cfg.AppendLimit,
		ControlDir: locs.controlDir, Quota: locs.quotaFunc(),
	})
	if err != nil {
		code := deliverExitCode(err)
		if code == exNoPerm && cfg.QuotaFullTempfail {
			code = exTempFail
		}
		return &exitError{code: code, err: err}
	}
	logger.Info("delivered", "user", name, "mailbox", got, "from", da.sender)
	return nil
}

// deliverRoot resolves the user's Maildir root: through the users file or
// the single user of the configuration, else as a system user (Postfix's
// local(8) runs mailbox_command as the recipient) whose home expands
// mail_location.
func deliverRoot(cfg *Config, name string, logger *slog.Logger, locs *mailLocations) (string, error) {
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return "", &exitError{code: exTempFail, err: fmt.Errorf("no -d and no $USER: %w", err)}
		}
		name = u.Username
	}
	if cfg.Users != "" || cfg.Maildir != "" {
		lookup, err := newRecipientLookup(cfg, logger, locs)
		if err != nil {
			return "", &exitError{code: exConfig, err: err}
		}
		_, root, err := lookup(name)
		if errors.Is(err, lmtp.ErrUnknownUser) {
			return "", &exitError{code: exNoUser, err: fmt.Errorf("user %q: %w", name, err)}
		} else if err != nil {
			return "", &exitError{code: exTempFail, err: err}
		}
		return root, nil
	}
	su, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return "", &exitError{code: exNoUser, err: fmt.Errorf("user %q: %w", name, lmtp.ErrUnknownUser)}
		}
		return "", &exitError{code: exTempFail, err: err}
	}
	uid, _ := strconv.Atoi(su.Uid)
	root, err := locs.maildir(&passwdfile.User{Name: su.Username, Home: su.HomeDir, UID: uid, GID: -1})
	if err != nil {
		return "", &exitError{code: exConfig, err: err}
	}
	return root, nil
}

// deliverExitCode maps a failed delivery to its sysexits code.
func deliverExitCode(err error) int {
	switch {
	case errors.Is(err, maildirbackend.ErrOverQuota):
		return exNoPerm
	case errors.Is(err, maildirbackend.ErrMessageTooBig):
		return exDataErr
	}
	return exTempFail // full disk and anything else: Postfix retries
}

// skipFromLine drops an mbox "From " envelope line at the start of the
// message, as Dovecot's LDA does (Postfix's pipe(8) adds one with flag F).
func skipFromLine(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if head, err := br.Peek(5); err != nil || string(head) != "From " {
		return br
	}
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return br
		}
	}
}
