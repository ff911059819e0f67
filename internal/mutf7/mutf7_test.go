package mutf7

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestEncode_table(t *testing.T) {
	tests := []struct {
		name, utf8, mutf7 string
	}{
		{"empty", "", ""},
		{"ascii", "INBOX", "INBOX"},
		{"umlaut", "Entwürfe", "Entw&APw-rfe"},
		{"ampersand", "&", "&-"},
		{"ampersand in word", "Tom & Jerry", "Tom &- Jerry"},
		{"rfc example", "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"emoji surrogate pair", "Hi 😀", "Hi &2D3eAA-"},
		{"only non-ascii", "äöü", "&AOQA9gD8-"},
		{"control char", "a\tb", "a&AAk-b"},
		{"dot kept", "Work.Clients", "Work.Clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Encode(tt.utf8); got != tt.mutf7 {
				t.Errorf("Encode(%q) = %q, want %q", tt.utf8, got, tt.mutf7)
			}
			got, err := Decode(tt.mutf7)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.mutf7, err)
			}
			if got != tt.utf8 {
				t.Errorf("Decode(%q) = %q, want %q", tt.mutf7, got, tt.utf8)
			}
		})
	}
}

func TestDecode_lenient(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"encoded ascii", "&AEEAQg-", "AB"},
		{"adjacent shifts", "&APw-&APw-", "üü"},
		{"nonzero padding bits", "&APx-", "ü"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecode_malformed(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"unterminated", "Entw&APw"},
		{"lone ampersand at end", "a&"},
		{"bad base64 char", "&AP*-"},
		{"slash not comma", "&U/BTFw-"},
		{"odd length", "&AP-"},
		{"unpaired high surrogate", "&2D0-"},
		{"unpaired low surrogate", "&3gA-"},
		{"high then ascii", "&2D0AQQ-"},
		{"raw utf8", "Entwürfe"},
		{"raw utf8 with shift", "ü&-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode(%q) = %q, want error", tt.in, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode(%q) error %v does not wrap ErrMalformed", tt.in, err)
			}
		})
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "INBOX", "Entwürfe", "&", "&&-", "😀x😀", "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := Encode(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("Encode(%q) = %q contains byte %#x", s, enc, enc[i])
			}
		}
		dec, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)) = error %v (encoded %q)", s, err, enc)
		}
		if utf8.ValidString(s) && dec != s {
			t.Fatalf("round trip %q -> %q -> %q", s, enc, dec)
		}
		// Decoding arbitrary input must not panic; when it succeeds the result
		// must re-encode to something that decodes to the same text.
		if d, err := Decode(s); err == nil {
			if d2, err := Decode(Encode(d)); err != nil || d2 != d {
				t.Fatalf("Decode(%q) = %q does not survive re-encoding: %q, %v", s, d, d2, err)
			}
		}
	})
}
