package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// command is one subcommand: run gets the arguments after its name.
type command struct {
	name, alias string
	summary     string
	run         func(args []string) error
}

// commands is the command table; `help` prints it.
var commands []command

func init() {
	commands = []command{
		{name: "serve", summary: "serve Maildirs over IMAP", run: runServe},
		{name: "demo", summary: "create a demo Maildir and serve it on 127.0.0.1:1143", run: runDemo},
		{name: "tail", summary: "log in, IDLE on a folder and print every change as it arrives", run: runTail},
		{name: "passwd", alias: "hash", summary: "hash a password from stdin for the users file", run: runPasswd},
		{name: "deliver", summary: "deliver a message from stdin into a user's Maildir (Dovecot's LDA, for mailbox_command)", run: runDeliver},
		{name: "check", summary: "validate the configuration, the users file and the Maildirs", run: runCheck},
		{name: "bench", summary: "measure push latency and throughput", run: runBench},
		{name: "version", summary: "print the version", run: runVersion},
		{name: "help", summary: "show this help, or with a command its flags", run: runHelp},
	}
}

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

// mainExit runs a command and returns the exit code: 0, 1 (error) or 2
// (usage). Help asked for (help, -h, --help, <command> -h) goes to stdout
// with status 0. An error is printed once, as "maildir-imapd: ...".
func mainExit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, helpText())
		return 2
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" {
		name = "help"
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "maildir-imapd: unknown command %q\n\n%s", name, helpText())
		return 2
	}
	err := cmd.run(args[1:])
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		fmt.Fprintf(stderr, "maildir-imapd: %s: %v\n", cmd.name, ee.err)
		if errors.As(ee.err, &ue) && !errors.Is(ee.err, flag.ErrHelp) {
			ue.printUsage(stderr)
		}
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		if errors.As(err, &ue) {
			ue.printUsage(stdout)
		}
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "maildir-imapd: %s: %v\n", cmd.name, ue.err)
		ue.printUsage(stderr)
		return 2
	default:
		fmt.Fprintf(stderr, "maildir-imapd: %v\n", err)
		return 1
	}
}

// exitError makes mainExit exit with code (the deliver command's
// sysexits.h codes) after printing err.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func lookupCommand(name string) *command {
	for i := range commands {
		if c := &commands[i]; c.name == name || (c.alias != "" && c.alias == name) {
			return c
		}
	}
	return nil
}

func runVersion(args []string) error {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	fmt.Println("maildir-imapd", version)
	return nil
}

// runHelp is `help [command]`: it returns flag.ErrHelp carrying the text to
// print (the command list, or the command's own -h output).
func runHelp(args []string) error {
	if len(args) == 0 {
		return &usageError{err: flag.ErrHelp, text: helpText()}
	}
	cmd := lookupCommand(args[0])
	switch {
	case cmd == nil:
		return &usageError{err: fmt.Errorf("unknown command %q", args[0]), text: helpText()}
	case cmd.name == "help":
		return &usageError{err: flag.ErrHelp, text: helpText()}
	default:
		return cmd.run([]string{"-h"})
	}
}

// helpText is the usage line and the command table.
func helpText() string {
	var b strings.Builder
	b.WriteString("Usage: maildir-imapd <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		name := c.name
		if c.alias != "" {
			name += ", " + c.alias
		}
		fmt.Fprintf(&b, "  %-14s %s\n", name, c.summary)
	}
	b.WriteString("\nRun 'maildir-imapd <command> -h' for the flags of a command.\n")
	return b.String()
}
