package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
)

// parseLevel parses --log-level.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log-level %q: want debug, info, warn or error", s)
}

// newLogger returns the process logger writing to w in format "text" or
// "json" at the given level.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", format)
}

// imapLogger adapts logger to imapserver.Logger. go-imap logs only
// failures, so its lines go out at Error, except for the ordinary end of a
// connection (a closed, reset or timed-out socket, EOF) and everything
// during shutdown (quiet returns true), which go out at Debug.
type imapLogger struct {
	log   *slog.Logger
	quiet func() bool
}

// Printf implements imapserver.Logger.
func (l imapLogger) Printf(format string, args ...any) {
	level := slog.LevelError
	if l.quiet() || isDisconnect(args) {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "src", "imapserver")
}

// isDisconnect reports whether an error among args is a client going away.
func isDisconnect(args []any) bool {
	for _, a := range args {
		err, ok := a.(error)
		if !ok {
			continue
		}
		if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrDeadlineExceeded) {
			return true
		}
	}
	return false
}
