package dovecot

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var fixtureSubscriptions = []string{"INBOX", "Sent", "Drafts", "Trash", "Archive", "Entwürfe", "Work.Clients", "Old-Projects"}

func TestReadSubscriptions_fixture(t *testing.T) {
	got, err := ReadSubscriptions(filepath.Join("testdata", "root"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fixtureSubscriptions) {
		t.Errorf("got %q, want %q", got, fixtureSubscriptions)
	}
}

func TestReadSubscriptions_formats(t *testing.T) {
	tests := []struct {
		name    string
		content string // "-" = no file
		want    []string
		wantErr bool
	}{
		{"missing", "-", nil, false},
		{"empty", "", nil, false},
		{"v1", "INBOX\nWork.Clients\nEntw&APw-rfe\n", []string{"INBOX", "Work.Clients", "Entwürfe"}, false},
		{"v2 escapes", "V\t2\n\na\x01tb\tc\x011d\x01n\n", []string{"a\tb.c\x01d\n"}, false},
		{"inbox lowercase and dups", "V\t2\n\ninbox\nINBOX\nSent\nSent\n", []string{"INBOX", "Sent"}, false},
		{"bad mutf7 kept raw", "V\t2\n\nEntw&APw\n", []string{"Entw&APw"}, false},
		{"no final newline", "V\t2\n\nA\tB", []string{"A.B"}, false},
		{"unknown version", "V\t3\n\nA\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.content != "-" {
				writeFile(t, root, SubscriptionsName, tt.content)
			}
			got, err := ReadSubscriptions(root)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteSubscriptions_fixtureBytes(t *testing.T) {
	root := t.TempDir()
	if err := WriteSubscriptions(root, fixtureSubscriptions); err != nil {
		t.Fatal(err)
	}
	want := readFile(t, filepath.Join("testdata", "root", SubscriptionsName))
	if got := readFile(t, filepath.Join(root, SubscriptionsName)); got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "subscriptions.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left: %v", err)
	}
}

func TestWriteSubscriptions_roundTrip(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []string
		bytes string
	}{
		// mUTF-7 already encodes TAB (&AAk-), so \001-escaping matters
		// only for files written by others.
		{"escapes and unicode", []string{"inbox", "a\tb.c", "Tom & Jerry", "😀.x", "", "INBOX"},
			[]string{"INBOX", "a\tb.c", "Tom & Jerry", "😀.x"},
			"V\t2\n\nINBOX\na&AAk-b\tc\nTom &- Jerry\n&2D3eAA-\tx\n"},
		{"none", nil, nil, "V\t2\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTestdata(t, "root")
			if err := WriteSubscriptions(root, tt.names); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(root, SubscriptionsName)); got != tt.bytes {
				t.Errorf("file = %q, want %q", got, tt.bytes)
			}
			got, err := ReadSubscriptions(root)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("re-read %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTabEscape_table(t *testing.T) {
	tests := []struct {
		name, raw, escaped string
	}{
		{"plain", "Work", "Work"},
		{"all specials", "a\x01b\tc\rd\ne", "a\x011b\x01tc\x01rd\x01ne"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tabEscape(tt.raw); got != tt.escaped {
				t.Errorf("tabEscape(%q) = %q, want %q", tt.raw, got, tt.escaped)
			}
			if got := tabUnescape(tt.escaped); got != tt.raw {
				t.Errorf("tabUnescape(%q) = %q, want %q", tt.escaped, got, tt.raw)
			}
		})
	}
	// Lenient decoding: NUL escape, unknown escape, trailing \001.
	if got := tabUnescape("a\x010b\x01xc\x01"); got != "a\x00bxc" {
		t.Errorf("tabUnescape lenient = %q", got)
	}
}
