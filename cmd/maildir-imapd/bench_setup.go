package main

// `bench setup`: users, Maildirs and a self-signed certificate for
// `bench push`.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/selfsigned"
)

// benchSetupConfig is the configuration of `bench setup`.
type benchSetupConfig struct {
	Dir       string
	Users     int
	Messages  int
	Listen    string
	ListenTLS string
}

func runBenchSetup(args []string) error {
	var c benchSetupConfig
	fs := flag.NewFlagSet("bench setup", flag.ContinueOnError)
	fs.StringVar(&c.Dir, "dir", "", "`directory` to create the users file, the Maildirs and the certificate in")
	fs.IntVar(&c.Users, "users", 10, "number of users user0..userN-1 (passwords pass0..passN-1)")
	fs.IntVar(&c.Messages, "messages", 5, "messages in each INBOX (in cur/, flagged \\Seen)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:11143", "address printed in the serve command")
	fs.StringVar(&c.ListenTLS, "listen-tls", "127.0.0.1:11993", "implicit-TLS address printed in the serve command")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fs: fs, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case c.Dir == "":
		return &usageError{fs: fs, err: errors.New("--dir is required")}
	case c.Users < 1 || c.Messages < 0:
		return &usageError{fs: fs, err: errors.New("--users must be at least 1 and --messages not negative")}
	}
	if err := benchSetup(&c); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		self = "maildir-imapd"
	}
	fmt.Printf("created %d users with %d messages each in %s\n", c.Users, c.Messages, c.Dir)
	fmt.Println("passwords are {PLAIN}: bcrypt (BLF-CRYPT) costs ~50-100 ms of CPU per LOGIN, so 10,000 logins would take minutes and measure the hash, not the push")
	fmt.Printf("serve:\n  %s serve --listen %s --listen-tls %s --tls-cert %s --tls-key %s --users %s --mail-location '%s' --log-level warn --max-connections-per-ip 0 --max-userip-connections 0\n",
		self, c.Listen, c.ListenTLS, filepath.Join(c.Dir, "cert.pem"), filepath.Join(c.Dir, "key.pem"),
		filepath.Join(c.Dir, "users"), filepath.Join(c.Dir, "%u", "Maildir"))
	fmt.Printf("push:\n  %s bench push --addr %s --users-file %s --maildir-pattern '%s' --users %d --conns %d --pid <server pid>\n",
		self, c.Listen, filepath.Join(c.Dir, "users"), filepath.Join(c.Dir, "user%d", "Maildir"), c.Users, c.Users)
	return nil
}

// benchSetup creates <dir>/users (user%d:{PLAIN}pass%d), <dir>/user%d/Maildir
// with c.Messages messages in cur/, and <dir>/cert.pem, <dir>/key.pem.
func benchSetup(c *benchSetupConfig) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.Dir, "users"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < c.Users; i++ {
		fmt.Fprintf(w, "user%d:{PLAIN}pass%d::::::\n", i, i)
		md := filepath.Join(c.Dir, fmt.Sprintf("user%d", i), "Maildir")
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
				f.Close()
				return fmt.Errorf("bench setup: %w", err)
			}
		}
		if _, err := ensureSeen(md, c.Messages); err != nil {
			f.Close()
			return fmt.Errorf("bench setup: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("bench setup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	if _, err := selfsigned.Write(filepath.Join(c.Dir, "cert.pem"), filepath.Join(c.Dir, "key.pem"), "maildir-imapd bench"); err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	return nil
}
