package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
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
		{name: "passwd", alias: "hash", summary: "hash a password from stdin for the users file", run: runPasswd},
		{name: "check", summary: "validate the configuration, the users file and the Maildirs", run: runCheck},
		{name: "bench", summary: "measure push latency and throughput", run: runBench},
		{name: "version", summary: "print the version", run: runVersion},
		{name: "help", summary: "show this help", run: runHelp},
	}
}

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stderr))
}

// mainExit runs a command and returns the exit code: 0, 1 (error) or 2
// (usage). The error is printed once, as "maildir-imapd: ...".
func mainExit(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stderr)
		return 2
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "maildir-imapd: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}
	err := cmd.run(args[1:])
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
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

func runHelp(args []string) error {
	printHelp(os.Stdout)
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: maildir-imapd <command> [flags]\n\nCommands:")
	for _, c := range commands {
		name := c.name
		if c.alias != "" {
			name += ", " + c.alias
		}
		fmt.Fprintf(w, "  %-14s %s\n", name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'maildir-imapd <command> -h' for the flags of a command.")
}
