package main

import (
	"flag"
	"fmt"
	"io"
)

// usageError is a bad command line: main prints it, then the usage, and
// exits 2. With err flag.ErrHelp it is a request for help instead: main
// prints the usage to stdout and exits 0.
type usageError struct {
	fs   *flag.FlagSet // may be nil
	err  error
	text string // printed after the flags of fs, if any
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (e *usageError) printUsage(w io.Writer) {
	if e.fs != nil {
		printFlags(w, e.fs)
	}
	fmt.Fprint(w, e.text)
}

// parseFlags parses args with fs, keeping the flag package quiet so that
// main prints the error once. -h returns a *usageError wrapping
// flag.ErrHelp, for which main prints the flags to stdout.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil { // flag.ErrHelp included
		return &usageError{fs: fs, err: err}
	}
	return nil
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage of maildir-imapd %s:\n", fs.Name())
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
