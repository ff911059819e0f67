package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// users is where the daemon's users come from.
type users struct {
	// auth is the backend's AuthFunc.
	auth maildirbackend.AuthFunc
	// verify checks a password alone and returns the user's entry, with
	// its extra fields (auth_http's "host="); it returns an error wrapping
	// passwdfile.ErrAuthFailed for bad credentials.
	verify func(name, password string) (*passwdfile.User, error)
	// owners are the owners of the users' files (privileges.go): the uids
	// of the users file, or the owner of the single user's Maildir.
	owners []passwdfile.Owner
}

// newAuthenticator returns the users of cfg: the passwd-file of --users
// (re-read when it changes), or the single user of --maildir, --user and
// --password-hash/--password-file.
func newAuthenticator(cfg *Config, logger *slog.Logger, locs *mailLocations) (*users, error) {
	if cfg.Users != "" {
		db, err := passwdfile.OpenDB(cfg.Users, logger)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		logger.Info("users", "mode", "passwd-file", "path", cfg.Users, "mail_location", cfg.MailLocation,
			"users", len(db.File().Users()))
		return &users{auth: usersAuth(db.Verify, locs), verify: db.Verify, owners: db.File().Owners()}, nil
	}
	f, maildir, err := singleUser(cfg)
	if err != nil {
		return nil, err
	}
	logger.Info("users", "mode", "single-user", "user", cfg.User, "maildir", maildir)
	var owners []passwdfile.Owner
	if o, err := ownerOfDir(maildir); err == nil {
		owners = append(owners, o)
	}
	auth := func(username, password string) (string, error) {
		if _, err := f.Verify(username, password); err != nil {
			return "", authError(err)
		}
		return maildir, nil
	}
	return &users{auth: auth, verify: f.Verify, owners: owners}, nil
}

// usersAuth resolves a verified user's Maildir: the user's own userdb_mail
// (or mail) extra field, else the template (location.go). A user whose uid
// is not the process's is refused (privileges.go).
func usersAuth(verify func(name, password string) (*passwdfile.User, error), locs *mailLocations) maildirbackend.AuthFunc {
	return func(username, password string) (string, error) {
		u, err := verify(username, password)
		if err != nil {
			return "", authError(err)
		}
		if err := checkOwner(u, os.Getuid()); err != nil {
			return "", err
		}
		return locs.maildir(u)
	}
}

// authError maps passwdfile's failure to imapserver's, keeping the cause.
func authError(err error) error {
	if errors.Is(err, passwdfile.ErrAuthFailed) {
		return fmt.Errorf("%w: %w", imapserver.ErrAuthFailed, err)
	}
	return err
}

// singleUser builds a one-line passwd-file from the single-user settings
// and returns it with the absolute Maildir path.
func singleUser(cfg *Config) (*passwdfile.File, string, error) {
	hash, err := cfg.passwordHash()
	if err != nil {
		return nil, "", err
	}
	if strings.ContainsAny(hash, ":\r\n") {
		return nil, "", errors.New("password-hash: must not contain ':' or line breaks")
	}
	if strings.ContainsAny(cfg.User, ":\r\n") || cfg.User == "" {
		return nil, "", fmt.Errorf("user %q: must be non-empty without ':' or line breaks", cfg.User)
	}
	f, err := passwdfile.Parse(strings.NewReader(cfg.User + ":" + hash + "\n"))
	if err != nil {
		// The line number of a synthetic line would only confuse.
		var le *passwdfile.LineError
		if errors.As(err, &le) {
			err = le.Err
		}
		return nil, "", fmt.Errorf("password-hash: %w", err)
	}
	maildir, err := cfg.maildirPath()
	if err != nil {
		return nil, "", err
	}
	return f, maildir, nil
}
