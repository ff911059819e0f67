package main

// This file holds `maildir-imapd bench`: the command line of `bench push`
// and `bench setup`. The load client is in bench_client.go, the scenarios
// and the figures in bench_run.go, the Maildir/users generator in
// bench_setup.go. Method (mirrors how Dovecot was measured, see
// contrib/bench/README.md): each connection does LOGIN, SELECT INBOX,
// IDLE; an "MTA" in this process changes the Maildirs and the latency runs
// from just before rename(2)/unlink(2) to the client having parsed the
// matching untagged response.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bench modes of `bench push --mode`.
const (
	modeDelivery = "delivery" // tmp/, fsync, rename into new/; clients see * N EXISTS
	modeFlag     = "flag"     // rename cur/<key>:2,S to cur/<key>:2,FS; clients see * N FETCH
	modeExpunge  = "expunge"  // unlink in cur/; clients see * N EXPUNGE
	modeBurst    = "burst"    // N deliveries at once into one INBOX
)

// benchConfig is the configuration of one `bench push` run.
type benchConfig struct {
	Addr            string
	UsersFile       string // passwd-file with {PLAIN}/{CLEAR} passwords; "" uses the patterns
	UserPattern     string // user name of index i: %d is replaced by i
	PasswordPattern string // password of index i: %d is replaced by i
	MaildirPattern  string // Maildir of user i for the MTA side: %d is i, %u the user name
	Conns           int
	Users           int
	Deliveries      int
	Interval        time.Duration
	Mode            string
	Burst           int
	TLS             bool // implicit TLS
	StartTLS        bool
	SetupParallel   int
	PID             int           // server pid for /proc memory figures; 0: none
	Timeout         time.Duration // late/missed threshold
	Verify          int           // burst: clients checked with UID FETCH 1:* (UID); 0: all
}

// runBench is the `bench` subcommand: `bench push` or `bench setup`.
func runBench(args []string) error {
	const usage = "Usage: maildir-imapd bench push|setup [flags]; 'maildir-imapd bench push -h' for the flags.\n"
	if len(args) == 0 {
		return &usageError{err: errors.New("want a subcommand: push or setup"), text: usage}
	}
	switch args[0] {
	case "push":
		return runBenchPush(args[1:])
	case "setup":
		return runBenchSetup(args[1:])
	case "-h", "-help", "--help", "help":
		return &usageError{err: flag.ErrHelp, text: usage}
	default:
		return &usageError{err: fmt.Errorf("unknown bench subcommand %q (want push or setup)", args[0])}
	}
}

// benchPushFlags returns the flag set of `bench push`, writing into c.
func benchPushFlags(c *benchConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("bench push", flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:143", "server `address`")
	fs.StringVar(&c.UsersFile, "users-file", "", "passwd-file whose {PLAIN}/{CLEAR} users log in (user i = line i)")
	fs.StringVar(&c.UserPattern, "user-pattern", "user%d", "user name `pattern`; %d is the user index")
	fs.StringVar(&c.PasswordPattern, "password-pattern", "pass%d", "password `pattern`; %d is the user index")
	fs.StringVar(&c.MaildirPattern, "maildir-pattern", "", "Maildir of each user for the MTA side, e.g. /tmp/b/user%d/Maildir (%d index, %u user name)")
	fs.IntVar(&c.Conns, "conns", 1, "IDLE connections; connection i belongs to user i mod --users")
	fs.IntVar(&c.Users, "users", 1, "users the connections are spread over")
	fs.IntVar(&c.Deliveries, "deliveries", 20, "operations (deliveries, flag renames or unlinks), spread over the users")
	fs.DurationVar(&c.Interval, "interval", 200*time.Millisecond, "pause between operations (1.7s for isolated changes)")
	fs.StringVar(&c.Mode, "mode", modeDelivery, "delivery, flag, expunge or burst")
	fs.IntVar(&c.Burst, "burst", 500, "burst mode: messages delivered as fast as possible into user 0's INBOX")
	fs.BoolVar(&c.TLS, "tls", false, "implicit TLS (certificate not verified)")
	fs.BoolVar(&c.StartTLS, "starttls", false, "STARTTLS before LOGIN (certificate not verified)")
	fs.IntVar(&c.SetupParallel, "setup-parallel", 32, "connections set up (LOGIN, SELECT, IDLE) in parallel")
	fs.IntVar(&c.PID, "pid", 0, "server `pid`: read VmRSS and Pss from /proc before and after connecting")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Second, "late threshold, and how long to wait after the last operation before counting a notification missed")
	fs.IntVar(&c.Verify, "verify", 500, "burst mode: clients (evenly sampled) checked with UID FETCH 1:* (UID); 0: all")
	return fs
}

func runBenchPush(args []string) error {
	var c benchConfig
	fs := benchPushFlags(&c)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fs: fs, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := c.validate(); err != nil {
		return &usageError{fs: fs, err: err}
	}
	if err := raiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "warning: %v\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := benchPush(ctx, &c)
	if res != nil {
		res.print(os.Stdout, &c)
	}
	if err != nil {
		return err
	}
	if res.Missed > 0 || res.BadClients > 0 {
		return fmt.Errorf("bench: %d missed, %d clients with a wrong final state", res.Missed, res.BadClients)
	}
	return nil
}

// validate checks c and fills in what follows from the mode.
func (c *benchConfig) validate() error {
	switch c.Mode {
	case modeDelivery, modeFlag, modeExpunge:
	case modeBurst:
		c.Users = 1
		if c.Burst < 1 {
			return errors.New("--burst must be at least 1")
		}
	default:
		return fmt.Errorf("unknown --mode %q (want delivery, flag, expunge or burst)", c.Mode)
	}
	switch {
	case c.MaildirPattern == "":
		return errors.New("--maildir-pattern is required (the MTA side writes there)")
	case c.Conns < 1, c.Users < 1:
		return errors.New("--conns and --users must be at least 1")
	case c.Users > c.Conns:
		return fmt.Errorf("--users %d is more than --conns %d: some users would have no connection", c.Users, c.Conns)
	case c.Deliveries < 1 && c.Mode != modeBurst:
		return errors.New("--deliveries must be at least 1")
	case c.TLS && c.StartTLS:
		return errors.New("--tls and --starttls exclude each other")
	case c.Timeout <= 0, c.Interval < 0:
		return errors.New("--timeout must be positive and --interval not negative")
	}
	if c.SetupParallel < 1 {
		c.SetupParallel = 1
	}
	return nil
}

// expand replaces %d with the index i and %u with the user name in pattern.
func expand(pattern string, i int, user string) string {
	s := strings.ReplaceAll(pattern, "%d", strconv.Itoa(i))
	return strings.ReplaceAll(s, "%u", user)
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit: 10,000
// connections need 10,000 descriptors in the client process.
func raiseNoFile() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur >= rl.Max {
		return nil
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", rl.Max, err)
	}
	return nil
}
