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

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/selfsigned"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

const (
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
	dirFlag := fs.String("dir", "", "demo `directory` (default maildir-imapd/demo in the user cache directory, or a new temporary directory)")
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
	info := demoInfo{dir: dir, maildir: maildir, created: created, tail: tailCommand()}
	if err := writeDemoFiles(&info); err != nil {
		return err
	}

	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = *listen, ""
	cfg.Users = info.users
	cfg.TLSCert, cfg.TLSKey = info.cert, info.key
	cfg.LogLevel = *logLevel
	return run(ctx, &cfg, logger, func(d *daemon) {
		info.addr, _ = d.Addrs()
		printDemo(out, info)
		if ready != nil {
			ready(d)
		}
	})
}

// demoDir returns the absolute demo directory, creating it. With no --dir
// it is maildir-imapd/demo in the user's cache directory (outside any
// checkout, reused by the next run), else a new temporary directory.
func demoDir(flagDir string) (string, error) {
	if flagDir != "" {
		if err := os.MkdirAll(flagDir, 0o700); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		return filepath.Abs(flagDir)
	}
	if cache, err := os.UserCacheDir(); err == nil && filepath.IsAbs(cache) {
		dir := filepath.Join(cache, "maildir-imapd", "demo")
		if err := os.MkdirAll(dir, 0o700); err == nil && isWritable(dir) {
			return dir, nil
		}
	}
	dir, err := os.MkdirTemp("", "maildir-imapd-demo-")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return dir, nil
}

// writeDemoFiles writes a new random password (in a password file for
// `tail`), the users file with its hash, and a new self-signed certificate
// for STARTTLS into info.dir, filling in their names.
func writeDemoFiles(info *demoInfo) error {
	info.password = rand.Text()[:16]
	hash, err := passwdfile.Hash(passwdfile.DefaultHashScheme, info.password)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	info.passwordFile = filepath.Join(info.dir, "password")
	if err := writeFileAtomic(info.passwordFile, []byte(info.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: password file: %w", err)
	}
	info.users = filepath.Join(info.dir, "users")
	if err := writeFileAtomic(info.users, []byte(demoUser+":"+hash+"::::"+info.dir+"::\n"), 0o600); err != nil {
		return fmt.Errorf("demo: users file: %w", err)
	}
	info.cert, info.key = filepath.Join(info.dir, "cert.pem"), filepath.Join(info.dir, "key.pem")
	if _, err := selfsigned.Write(info.cert, info.key, "maildir-imapd demo"); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// tailCommand is how the user runs this program's `tail`: the installed
// binary, or `go run` for a binary `go run` built and deletes at exit.
func tailCommand() string {
	exe, err := os.Executable()
	switch {
	case err != nil:
		return "maildir-imapd tail"
	case strings.Contains(exe, string(filepath.Separator)+"go-build"):
		return "go run ./cmd/maildir-imapd tail"
	default:
		return shellQuote(exe) + " tail"
	}
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
	dir, maildir, users, password, passwordFile string
	cert, key                                   string // self-signed, for STARTTLS
	addr                                        string
	tail                                        string // the command that runs `tail`
	created                                     bool
}

func printDemo(w io.Writer, i demoInfo) {
	state := "reused"
	if i.created {
		state = "created"
	}
	q := shellQuote
	host, port := splitAddr(i.addr)
	user := demoUser + ":" + i.password
	fmt.Fprintf(w, `
maildir-imapd demo: serving a Maildir on %[1]s

  Directory: %[2]s
  Maildir:   %[3]s (%[4]s; INBOX, Sent, Drafts, Trash, Archive, Work.Projects)
  User:      %[5]s
  Password:  %[6]s   (new on every run; also in %[7]s)
  TLS:       STARTTLS with the self-signed certificate %[8]s (new on every run);
             plaintext login works too, because the listener is on loopback

Watch INBOX the way a push client sees it (IDLE): every change is printed as it
arrives, with its delay after the change on disk:

  %[9]s --addr %[1]s --user %[5]s --password-file %[10]s --starttls --ca-file %[11]s --maildir %[12]s

Connect a client:

  curl --url 'imap://%[1]s/' --user %[13]s             # the folders
  curl --url 'imap://%[1]s/INBOX?ALL' --user %[13]s    # SEARCH ALL in INBOX
  curl --url 'imap://%[1]s/INBOX;UID=1' --user %[13]s  # message UID 1
  mutt -n -F /dev/null -e %[14]s -f imap://%[5]s@%[1]s/INBOX
  Thunderbird: IMAP server %[15]s, port %[16]s, connection security "STARTTLS" (accept the
               certificate exception), authentication "Normal password", user name %[5]s

Deliver a message the way an MTA does (tmp/, then rename into new/) and watch it
arrive in the tail above:

  printf 'From: Carol <carol@example.net>\nTo: %[5]s@localhost\nSubject: hello\n\nhi\n' > %[17]s/msg.$$ && mv %[17]s/msg.$$ %[18]s/$(date +%%s).$$.demo

Ctrl-C stops the server.
`, i.addr, i.dir, i.maildir, state, demoUser, i.password, i.passwordFile, i.cert,
		i.tail, q(i.passwordFile), q(i.cert), q(i.maildir),
		q(user), q(muttSettings(i.cert, i.password, i.addr)), host, port,
		q(filepath.Join(i.maildir, "tmp")), q(filepath.Join(i.maildir, "new")))
}

// muttSettings is what mutt needs for the demo: trust the self-signed
// certificate (mutt's default ssl_force_tls=yes makes it use STARTTLS and
// ask about an unknown certificate), the password, the server as $folder
// (else mutt offers to create ~/Mail), and IDLE with a short timeout so
// that new mail shows within seconds.
func muttSettings(cert, password, addr string) string {
	return fmt.Sprintf("set certificate_file=%s imap_pass=%s folder=%s imap_idle=yes timeout=3 mail_check=2",
		muttQuote(cert), muttQuote(password), muttQuote("imap://"+demoUser+"@"+addr+"/"))
}

// muttQuote quotes s as one muttrc word.
func muttQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", "$", `\$`).Replace(s) + `"`
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
