package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// runCheck is the `check` subcommand.
func runCheck(args []string) error {
	return checkMain(args, os.Stdout)
}

// checkMain validates the configuration of serve (same flags, or
// --config), the TLS certificate, the users file, and every user's
// Maildir, printing one line per finding to out. It fails when anything is
// wrong; the error counts the problems, which out lists.
func checkMain(args []string, out io.Writer) error {
	cfg, err := parseConfig("check", args)
	if err != nil {
		return err
	}
	c := &checker{out: out}
	if err := cfg.validate(); err != nil {
		for _, e := range unjoin(err) {
			c.problem("config: %v", e)
		}
	} else {
		c.ok("config: ok")
	}
	if cfg.TLSCert != "" && cfg.TLSKey != "" {
		c.checkTLS(cfg)
	}
	if loc, err := cfg.templateLocation(); err == nil && loc.Index != "" {
		c.warn("mail-location: INDEX= is ignored: maildir-imapd keeps no Dovecot index and leaves its files alone")
	}
	switch {
	case cfg.Users != "":
		c.checkUsers(cfg)
	case cfg.Maildir != "" && cfg.User != "":
		if _, maildir, err := singleUser(cfg); err != nil {
			c.problem("single user %q: %v", cfg.User, err)
		} else {
			c.checkMaildir(fmt.Sprintf("user %q", cfg.User), maildir)
		}
	}
	if c.problems > 0 {
		return fmt.Errorf("check: %d problem(s) found", c.problems)
	}
	return nil
}

// checker prints findings and counts problems.
type checker struct {
	out      io.Writer
	problems int
}

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.out, "ok       "+format+"\n", args...)
}

// warn reports something odd that does not stop serve.
func (c *checker) warn(format string, args ...any) {
	fmt.Fprintf(c.out, "WARNING  "+format+"\n", args...)
}

func (c *checker) problem(format string, args ...any) {
	c.problems++
	fmt.Fprintf(c.out, "PROBLEM  "+format+"\n", args...)
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (c *checker) checkTLS(cfg *Config) {
	tc, err := loadTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		c.problem("%v", err)
		return
	}
	leaf := tc.Certificates[0].Leaf
	if leaf == nil {
		c.ok("tls: certificate and key match")
		return
	}
	names := strings.Join(leaf.DNSNames, ", ")
	switch now := time.Now(); {
	case now.After(leaf.NotAfter):
		c.problem("tls: certificate for %s expired on %s", names, leaf.NotAfter.Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		c.problem("tls: certificate for %s is not valid before %s", names, leaf.NotBefore.Format(time.DateOnly))
	default:
		c.ok("tls: certificate for %s matches its key, valid until %s", names, leaf.NotAfter.Format(time.DateOnly))
	}
}

func (c *checker) checkUsers(cfg *Config) {
	f, err := passwdfile.Load(cfg.Users)
	if f == nil {
		c.problem("users: %v", err)
		return
	}
	for _, p := range f.Problems() {
		c.problem("users: %v", p)
	}
	locs := newMailLocations(cfg, slog.New(slog.DiscardHandler))
	users := f.Users()
	if len(users) == 0 {
		c.problem("users: %s: no usable user", cfg.Users)
	} else {
		c.ok("users: %s: %d user(s)", cfg.Users, len(users))
	}
	for _, u := range users {
		label := fmt.Sprintf("user %q (line %d)", u.Name, u.Line)
		if u.Password == "" {
			c.problem("%s: empty password field: cannot log in", label)
		}
		maildir, err := locs.maildir(u)
		if err != nil {
			c.problem("%s: %v", label, err)
			continue
		}
		if own := u.MailLocation(); own != "" {
			if loc, err := passwdfile.ParseLocation(own, u); err == nil && loc.Index != "" {
				c.warn("%s: INDEX=%s is ignored: maildir-imapd keeps no Dovecot index", label, loc.Index)
			}
		}
		c.checkMaildir(label, maildir)
	}
}

// errNoMaildir: the Maildir does not exist yet. That is a warning, not a
// problem: the MTA creates it with the first delivery (so `check` as a
// systemd ExecStartPre does not block new users).
var errNoMaildir = errors.New("does not exist (yet: the first delivery creates it)")

// checkMaildir reports whether dir is a readable Maildir with cur/, new/
// and tmp/.
func (c *checker) checkMaildir(label, dir string) {
	err := maildirProblem(dir)
	if errors.Is(err, errNoMaildir) {
		c.warn("%s: Maildir %s: %v", label, dir, err)
		return
	}
	if err != nil {
		c.problem("%s: Maildir %s: %v", label, dir, err)
		return
	}
	c.ok("%s: Maildir %s: readable, has cur/ new/ tmp/", label, dir)
	if fs := watch.NetworkFS(dir); fs != "" {
		c.warn("%s: Maildir %s is on a network file system (%s): inotify misses other hosts' changes; its folders are polled every poll-interval", label, dir, fs)
	}
}

func maildirProblem(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errNoMaildir
	case err != nil:
		return err
	case !info.IsDir():
		return errors.New("not a directory")
	}
	var missing []string
	for _, sub := range []string{"cur", "new", "tmp"} {
		p := filepath.Join(dir, sub)
		if info, err := os.Stat(p); err != nil || !info.IsDir() {
			missing = append(missing, sub+"/")
			continue
		}
		d, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%s/ not readable: %w", sub, err)
		}
		_, err = d.Readdirnames(1)
		d.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s/ not readable: %w", sub, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, " "))
	}
	return nil
}
