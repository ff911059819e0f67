package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

const (
	defaultDemoDir    = "maildir-imapd-demo"
	defaultDemoListen = "127.0.0.1:1143"
	demoUser          = "demo"
)

// runDemo is the `demo` subcommand.
func runDemo(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demoMain(ctx, args, os.Stdout, os.Stderr, nil)
}

// demoMain creates (or reuses) a demo Maildir and a users file with a new
// random password, prints how to connect, and serves until ctx is done.
// Instructions go to out, logs to logOut. ready, if not nil, is called
// after the instructions are printed.
func demoMain(ctx context.Context, args []string, out, logOut io.Writer, ready func(*daemon)) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dirFlag := fs.String("dir", "", "demo `directory` (default ./"+defaultDemoDir+", or a temporary directory if that is not writable)")
	listen := fs.String("listen", defaultDemoListen, "listen `address` (loopback: plaintext login is allowed there)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fs: fs, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if !isLoopbackAddr(*listen) {
		// Plaintext login with a printed password: loopback only.
		return &usageError{fs: fs, err: fmt.Errorf("--listen %q: the demo listens on a loopback address only", *listen)}
	}
	logger, err := newLogger(logOut, *logLevel, "text")
	if err != nil {
		return &usageError{fs: fs, err: err}
	}
	dir, err := demoDir(*dirFlag)
	if err != nil {
		return err
	}
	if strings.ContainsAny(dir, ":\n\r") {
		return fmt.Errorf("demo: directory %q: a passwd-file home cannot contain ':' or line breaks", dir)
	}
	maildir := filepath.Join(dir, "Maildir")
	created, err := populateDemo(maildir)
	if err != nil {
		return err
	}
	password := rand.Text()[:16]
	hash, err := passwdfile.Hash(passwdfile.DefaultHashScheme, password)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	users := filepath.Join(dir, "users")
	if err := writeFileAtomic(users, []byte(demoUser+":"+hash+"::::"+dir+"::\n"), 0o600); err != nil {
		return fmt.Errorf("demo: users file: %w", err)
	}

	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = *listen, ""
	cfg.Users = users
	cfg.LogLevel = *logLevel
	return run(ctx, &cfg, logger, func(d *daemon) {
		addr, _ := d.Addrs()
		printDemo(out, demoInfo{dir: dir, maildir: maildir, users: users, password: password, addr: addr, created: created})
		if ready != nil {
			ready(d)
		}
	})
}

// demoDir returns the absolute demo directory, creating it. With no --dir it
// tries ./maildir-imapd-demo, then a new temporary directory.
func demoDir(flagDir string) (string, error) {
	if flagDir != "" {
		if err := os.MkdirAll(flagDir, 0o700); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		return filepath.Abs(flagDir)
	}
	if err := os.MkdirAll(defaultDemoDir, 0o700); err == nil && isWritable(defaultDemoDir) {
		return filepath.Abs(defaultDemoDir)
	}
	dir, err := os.MkdirTemp("", "maildir-imapd-demo-")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return dir, nil
}

func isWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// demoInfo is what the demo prints.
type demoInfo struct {
	dir, maildir, users, password, addr string
	created                             bool
}

func printDemo(w io.Writer, i demoInfo) {
	state := "reused"
	if i.created {
		state = "created"
	}
	q := shellQuote
	host, port := splitAddr(i.addr)
	fmt.Fprintf(w, `
maildir-imapd demo: serving a Maildir on %[1]s

  Maildir:   %[2]s (%[3]s; INBOX, Sent, Drafts, Trash, Archive, Work.Projects)
  Users:     %[4]s
  User:      %[5]s
  Password:  %[6]s   (new on every run)

Connect (plaintext IMAP is allowed because the listener is on loopback):

  curl -v --url imap://%[1]s/INBOX --user '%[5]s:%[6]s'
  curl --url 'imap://%[1]s/INBOX;UID=1' --user '%[5]s:%[6]s'
  mutt -f imap://%[5]s@%[1]s/INBOX
  Thunderbird: IMAP server %[7]s, port %[8]s, connection security "None",
               authentication "Normal password", user name %[5]s

Deliver a message the way an MTA does (tmp/, then rename into new/) and watch it
arrive in an IDLE client:

  printf 'From: Carol <carol@example.net>\nTo: %[5]s@localhost\nSubject: hello\n\nhi\n' > %[9]s/msg.$$ && mv %[9]s/msg.$$ %[10]s/$(date +%%s).$$.demo

Ctrl-C stops the server.
`, i.addr, i.maildir, state, i.users, demoUser, i.password, host, port,
		q(filepath.Join(i.maildir, "tmp")), q(filepath.Join(i.maildir, "new")))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == ',' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// splitAddr splits a bound address into host and port for the instructions.
func splitAddr(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	return host, port
}

// errDemoExists is not an error: the tree is reused as it is.
var errDemoExists = errors.New("demo Maildir exists")

// populateDemo creates the demo tree unless maildir already exists. It
// reports whether it created it.
func populateDemo(maildir string) (bool, error) {
	err := createDemoTree(maildir)
	switch {
	case errors.Is(err, errDemoExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("demo: %w", err)
	}
	return true, nil
}
