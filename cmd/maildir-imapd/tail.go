package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// tailConfig is the command line of `tail`.
type tailConfig struct {
	addr, user, password, passwordFile string
	folder, maildir, caFile            string
	implicitTLS, startTLS, insecure    bool
}

// runTail is the `tail` subcommand: an IDLE client that prints every
// change of one folder as the server pushes it.
func runTail(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return tailMain(ctx, args, os.Stdout, nil)
}

// tailFlags returns the flag set of `tail`, writing into c.
func tailFlags(c *tailConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:143", "server `address` (host:port)")
	fs.StringVar(&c.user, "user", "", "user name")
	fs.StringVar(&c.password, "password", "", "`password` (visible to other local users in ps; prefer --password-file)")
	fs.StringVar(&c.passwordFile, "password-file", "", "`file` whose first line is the password")
	fs.StringVar(&c.folder, "folder", "INBOX", "`mailbox` to watch (opened read-only with EXAMINE)")
	fs.StringVar(&c.maildir, "maildir", "", "Maildir `directory` of the user, when it is on this machine: each line then shows how long after the change on disk it arrived")
	fs.BoolVar(&c.implicitTLS, "tls", false, "implicit TLS (port 993 style)")
	fs.BoolVar(&c.startTLS, "starttls", false, "STARTTLS before LOGIN")
	fs.StringVar(&c.caFile, "ca-file", "", "PEM `file` of the certificate to trust (a self-signed one, such as the demo's)")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "accept any server certificate (self-signed ones)")
	return fs
}

// tailMain parses args, logs in, EXAMINEs the folder and prints the changes
// the server pushes during IDLE to out until ctx is done or the connection
// ends. ready, if not nil, is called once IDLE has started.
func tailMain(ctx context.Context, args []string, out io.Writer, ready func()) error {
	var c tailConfig
	fs := tailFlags(&c)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	password, err := c.check(fs)
	if err != nil {
		return err
	}
	tlsConfig, err := c.tlsConfig()
	if err != nil {
		return err
	}
	p := &tailPrinter{w: out, dirs: folderDirs(c.maildir, c.folder)}
	client, err := c.dial(tlsConfig, p.handler())
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	defer client.Close()
	if err := client.Login(c.user, password).Wait(); err != nil {
		return fmt.Errorf("tail: LOGIN: %w", err)
	}
	sel, err := client.Select(c.folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("tail: EXAMINE %s: %w", c.folder, err)
	}
	p.printf("%s on %s: %d messages, UIDNEXT %d; waiting in IDLE (Ctrl-C stops)", c.folder, c.addr, sel.NumMessages, sel.UIDNext)
	idle, err := client.Idle()
	if err != nil {
		return fmt.Errorf("tail: IDLE: %w", err)
	}
	if ready != nil {
		ready()
	}
	ended := make(chan error, 1)
	go func() { ended <- idle.Wait() }()
	select {
	case err := <-ended:
		if err == nil {
			err = errors.New("the server ended IDLE")
		}
		return fmt.Errorf("tail: %w", err)
	case <-ctx.Done():
	}
	if err := idle.Close(); err != nil {
		return fmt.Errorf("tail: end IDLE: %w", err)
	}
	if err := <-ended; err != nil {
		return fmt.Errorf("tail: end IDLE: %w", err)
	}
	if err := client.Logout().Wait(); err != nil {
		return fmt.Errorf("tail: LOGOUT: %w", err)
	}
	return nil
}

// check validates the flags and returns the password.
func (c *tailConfig) check(fs *flag.FlagSet) (string, error) {
	bad := func(format string, a ...any) error {
		return &usageError{fs: fs, err: fmt.Errorf(format, a...)}
	}
	switch {
	case fs.NArg() > 0:
		return "", bad("unexpected argument %q", fs.Arg(0))
	case c.user == "":
		return "", bad("--user is required")
	case (c.password == "") == (c.passwordFile == ""):
		return "", bad("give exactly one of --password and --password-file")
	case c.implicitTLS && c.startTLS:
		return "", bad("--tls and --starttls exclude each other")
	case (c.caFile != "" || c.insecure) && !c.implicitTLS && !c.startTLS:
		return "", bad("--ca-file and --insecure-skip-verify need --tls or --starttls")
	}
	if c.password != "" {
		return c.password, nil
	}
	b, err := os.ReadFile(c.passwordFile)
	if err != nil {
		return "", fmt.Errorf("tail: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// tlsConfig returns the client TLS configuration, nil without TLS.
func (c *tailConfig) tlsConfig() (*tls.Config, error) {
	if !c.implicitTLS && !c.startTLS {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, fmt.Errorf("tail: --addr: %w", err)
	}
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: c.insecure, MinVersion: tls.VersionTLS12}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("tail: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tail: %s: no PEM certificate", c.caFile)
		}
	}
	return cfg, nil
}

// dial connects as the flags say.
func (c *tailConfig) dial(tlsConfig *tls.Config, h *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: tlsConfig, UnilateralDataHandler: h}
	switch {
	case c.implicitTLS:
		return imapclient.DialTLS(c.addr, opts)
	case c.startTLS:
		return imapclient.DialStartTLS(c.addr, opts)
	default:
		return imapclient.DialInsecure(c.addr, opts)
	}
}

// folderDirs returns the new/ and cur/ directories of mailbox in the
// Maildir++ tree at maildir (INBOX is the root, "A.B" is ".A.B"), or nil
// when maildir is empty or the name is not plain ASCII (its directory name
// would depend on the server's encoding).
func folderDirs(maildir, mailbox string) []string {
	if maildir == "" || strings.ContainsFunc(mailbox, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '/' || r == '&' }) {
		return nil
	}
	dir := maildir
	if !strings.EqualFold(mailbox, "INBOX") {
		dir = filepath.Join(maildir, "."+mailbox)
	}
	return []string{filepath.Join(dir, "new"), filepath.Join(dir, "cur")}
}

// tailPrinter writes one line per pushed response: the wall-clock time,
// the response, and, when it knows the folder's directories, how long ago
// the latest change on disk happened (a rename or unlink in new/ or cur/
// updates that directory's mtime).
type tailPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	dirs []string // new/ and cur/; nil: no delay
}

// handler returns the imapclient handler that prints the pushed responses.
// imapclient calls it from its reader goroutine, one response at a time.
func (p *tailPrinter) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seqNum uint32) { p.printf("* %d EXPUNGE%s", seqNum, p.delay()) },
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				p.printf("* %d EXISTS%s", *data.NumMessages, p.delay())
			}
			if data.Flags != nil {
				p.printf("* FLAGS (%s)", joinFlags(data.Flags))
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil {
				p.printf("* %d FETCH: %v", msg.SeqNum, err)
				return
			}
			var items []string
			if buf.UID != 0 {
				items = append(items, fmt.Sprintf("UID %d", buf.UID))
			}
			if buf.Flags != nil {
				items = append(items, "FLAGS ("+joinFlags(buf.Flags)+")")
			}
			p.printf("* %d FETCH (%s)%s", buf.SeqNum, strings.Join(items, " "), p.delay())
		},
	}
}

// delay says how long ago the folder last changed on disk, or "" when it
// cannot tell (no --maildir, or no change within the last minute).
func (p *tailPrinter) delay() string {
	now := time.Now()
	var last time.Time
	for _, d := range p.dirs {
		if fi, err := os.Stat(d); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	if d := now.Sub(last); !last.IsZero() && d >= 0 && d < time.Minute {
		return fmt.Sprintf("   (%.1f ms after the change on disk)", float64(d.Microseconds())/1000)
	}
	return ""
}

func (p *tailPrinter) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s  %s\n", time.Now().Format("15:04:05.000000"), fmt.Sprintf(format, a...))
}

func joinFlags(flags []imap.Flag) string {
	s := make([]string, len(flags))
	for i, f := range flags {
		s[i] = string(f)
	}
	return strings.Join(s, " ")
}
