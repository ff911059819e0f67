package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestImapLogger_levels(t *testing.T) {
	tests := []struct {
		name    string
		closing bool
		err     error
		level   string
	}{
		{name: "server fault", err: errors.New("disk on fire"), level: "ERROR"},
		{name: "closed socket", err: fmt.Errorf("read: %w", net.ErrClosed), level: "DEBUG"},
		{name: "reset by peer", err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}, level: "DEBUG"},
		{name: "eof", err: io.EOF, level: "DEBUG"},
		{name: "anything during shutdown", closing: true, err: errors.New("disk on fire"), level: "DEBUG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			l := imapLogger{
				log:   slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
				quiet: func() bool { return tt.closing },
			}
			l.Printf("handling %v command: %v\n", "IDLE", tt.err)
			if !strings.Contains(buf.String(), "level="+tt.level) || !strings.Contains(buf.String(), "handling IDLE command") {
				t.Errorf("logged %q, want level %s", buf.String(), tt.level)
			}
		})
	}
}

func TestNewLogger_formats(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantErr             bool
		want                string
	}{
		{name: "text", level: "info", format: "text", want: "level=INFO msg=hello"},
		{name: "json", level: "debug", format: "json", want: `"msg":"hello"`},
		{name: "bad level", level: "chatty", format: "text", wantErr: true},
		{name: "bad format", level: "info", format: "yaml", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			l, err := newLogger(&buf, tt.level, tt.format)
			if (err != nil) != tt.wantErr {
				t.Fatalf("newLogger error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			l.Info("hello")
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("logged %q, want %q", buf.String(), tt.want)
			}
		})
	}
}
