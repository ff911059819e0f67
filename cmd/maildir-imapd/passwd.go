package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// runPasswd is the `passwd` (alias `hash`) subcommand.
func runPasswd(args []string) error {
	return passwdMain(args, os.Stdin, os.Stdout, os.Stderr)
}

// passwdMain reads a password from in (prompting twice, without echo, when
// in is a terminal) and writes its passwd-file field to out, as `doveadm pw`
// does: {BLF-CRYPT}$2y$10$...
func passwdMain(args []string, in *os.File, out, prompt io.Writer) error {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	scheme := fs.String("scheme", passwdfile.DefaultHashScheme,
		"password `scheme`: "+strings.Join(passwdfile.HashSchemes(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fs: fs, err: errors.New("the password is read from stdin, not from the arguments")}
	}
	var (
		pw  string
		err error
	)
	if isTerminal(in) {
		pw, err = promptPassword(in, prompt)
	} else {
		pw, err = readLine(in)
	}
	if err != nil {
		return err
	}
	if pw == "" {
		return errors.New("passwd: empty password")
	}
	h, err := passwdfile.Hash(*scheme, pw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

// readLine returns the first line of r without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("passwd: no password on stdin")
		}
		return "", fmt.Errorf("passwd: reading stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// promptPassword asks for the password twice on a terminal, with echo off
// where the platform allows it.
func promptPassword(tty *os.File, prompt io.Writer) (string, error) {
	restore := disableEcho(tty)
	defer restore()
	r := bufio.NewReader(tty)
	ask := func(text string) (string, error) {
		fmt.Fprint(prompt, text)
		line, err := r.ReadString('\n')
		fmt.Fprintln(prompt)
		if err != nil && line == "" {
			return "", fmt.Errorf("passwd: reading terminal: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := ask("Enter new password: ")
	if err != nil {
		return "", err
	}
	again, err := ask("Retype new password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("passwd: passwords do not match")
	}
	return pw, nil
}
