package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// usageError is a bad command line: main prints it, then the usage, and
// exits 2.
type usageError struct {
	fs  *flag.FlagSet
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (e *usageError) printUsage(w io.Writer) {
	if e.fs != nil {
		printFlags(w, e.fs)
	}
}

// parseFlags parses args with fs, keeping the flag package quiet so that
// main prints the error once. -h prints the usage to stdout and returns
// flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		printFlags(os.Stdout, fs)
		return flag.ErrHelp
	default:
		return &usageError{fs: fs, err: err}
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage of maildir-imapd %s:\n", fs.Name())
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
