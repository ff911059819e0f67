package main

import (
	"strings"
	"testing"
)

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
