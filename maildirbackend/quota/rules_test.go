package quota

import (
	"testing"
)

func TestParse_rules(t *testing.T) {
	tests := []struct {
		name     string
		rules    []string
		storage  int64
		messages int64
		force    bool
		err      bool
	}{
		{name: "storage KiB default", rules: []string{"*:storage=100"}, storage: 100 << 10, force: true},
		{name: "storage units", rules: []string{"*:storage=1G"}, storage: 1 << 30, force: true},
		{name: "lower-case unit", rules: []string{"*:storage=512k"}, storage: 512 << 10, force: true},
		{name: "bytes", rules: []string{"*:bytes=1000"}, storage: 1000, force: true},
		{name: "bytes with unit", rules: []string{"*:bytes=2M"}, storage: 2 << 20, force: true},
		{name: "terabyte", rules: []string{"*:storage=1T"}, storage: 1 << 40, force: true},
		{name: "messages", rules: []string{"*:storage=1G", "*:messages=1000"}, storage: 1 << 30, messages: 1000, force: true},
		{name: "both in one", rules: []string{"*:storage=10M:messages=5"}, storage: 10 << 20, messages: 5, force: true},
		{name: "non-forced", rules: []string{"?:storage=1M"}, storage: 1 << 20},
		{name: "backend", rules: []string{"*:backend=5000S,10C"}, storage: 5000, messages: 10, force: true},
		{name: "percent default", rules: []string{"*:storage=10%"}, err: true},
		{name: "negative default", rules: []string{"*:storage=-1"}, err: true},
		{name: "unknown key", rules: []string{"*:size=1"}, err: true},
		{name: "bad unit", rules: []string{"*:storage=1X"}, err: true},
		{name: "no colon", rules: []string{"storage=1G"}, err: true},
		{name: "overflow", rules: []string{"*:storage=99999999999T"}, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.rules, "")
			if tc.err {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tc.rules, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Storage != tc.storage || r.Messages != tc.messages || r.Force != tc.force {
				t.Errorf("got storage %d messages %d force %v", r.Storage, r.Messages, r.Force)
			}
		})
	}
}

func TestRules_limits(t *testing.T) {
	r, err := Parse([]string{"*:storage=1M:messages=100", "Trash:storage=+100k", "Junk:ignore",
		"Archive*:messages=-10%", "Sent:storage=50%"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mailbox  string
		bytes    int64
		count    int64
		ignored  bool
		storage  int64
		messages int64
	}{
		{mailbox: "INBOX", bytes: 1 << 20, count: 100},
		{mailbox: "Trash", bytes: 1<<20 + 100<<10, count: 100},
		{mailbox: "Junk", ignored: true},
		{mailbox: "Archive.2024", bytes: 1 << 20, count: 90},
		{mailbox: "Sent", bytes: 1<<20 + 1<<19, count: 100},
		{mailbox: "Trash2", bytes: 1 << 20, count: 100},
	}
	for _, tc := range tests {
		b, c, ign := r.Limits(tc.mailbox, r.Storage, r.Messages)
		if b != tc.bytes || c != tc.count || ign != tc.ignored {
			t.Errorf("Limits(%q) = %d, %d, %v; want %d, %d, %v", tc.mailbox, b, c, ign, tc.bytes, tc.count, tc.ignored)
		}
	}
	// No limit at all: mailbox rules do not apply (Dovecot).
	if b, c, ign := r.Limits("Trash", 0, 0); b != 0 || c != 0 || ign {
		t.Errorf("unlimited: %d %d %v", b, c, ign)
	}
}

func TestParseGrace(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // for a limit of 1000
		err  bool
	}{
		{in: "10%", want: 100},
		{in: "0", want: 0},
		{in: "10M", want: 10 << 20},
		{in: "512", want: 512},
		{in: "x", err: true},
		{in: "-5", err: true},
	}
	for _, tc := range tests {
		g, err := ParseGrace(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseGrace(%q): %v", tc.in, err)
			continue
		}
		r := Rules{Grace: g}
		if !tc.err && r.GraceBytes(1000) != tc.want {
			t.Errorf("ParseGrace(%q) gives %d bytes of 1000, want %d", tc.in, r.GraceBytes(1000), tc.want)
		}
	}
}

// TestFromFields: the users file's fields override the configuration's
// rules of the same name, with or without "userdb_", as Dovecot's userdb
// fields override plugin settings.
func TestFromFields(t *testing.T) {
	base := []string{"*:storage=1G", "*:messages=1000"}
	tests := []struct {
		name     string
		base     []string
		fields   map[string]string
		nilRules bool
		storage  int64
		messages int64
	}{
		{name: "configuration only", base: base, storage: 1 << 30, messages: 1000},
		{name: "userdb prefix", base: base, fields: map[string]string{"userdb_quota_rule": "*:storage=2G"}, storage: 2 << 30, messages: 1000},
		{name: "plain", base: base, fields: map[string]string{"quota_rule2": "*:messages=5"}, storage: 1 << 30, messages: 5},
		{name: "user only", fields: map[string]string{"userdb_quota_rule": "*:storage=10M", "userdb_quota_rule2": "*:messages=7"}, storage: 10 << 20, messages: 7},
		{name: "gap stops", fields: map[string]string{"quota_rule": "*:storage=10M", "quota_rule3": "*:messages=7"}, storage: 10 << 20},
		{name: "none", fields: map[string]string{"userdb_mail": "maildir:~/Maildir"}, nilRules: true},
		{name: "emptied", base: base, fields: map[string]string{"quota_rule": ""}, nilRules: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := FromFields(tc.base, "", tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			if tc.nilRules {
				if r != nil {
					t.Fatalf("got %+v, want no quota", r)
				}
				return
			}
			if r == nil || r.Storage != tc.storage || r.Messages != tc.messages {
				t.Fatalf("got %+v", r)
			}
		})
	}
	if _, err := FromFields(nil, "", map[string]string{"quota_rule": "*:storage=lots"}); err == nil {
		t.Error("a bad user rule is accepted")
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		s, mask string
		ok      bool
	}{
		{"Trash", "Trash", true}, {"Trash", "T*", true}, {"Trash", "T?ash", true},
		{"Trash", "*h", true}, {"Trash", "trash", false}, {"Trash", "Tr", false}, {"", "*", true},
	}
	for _, tc := range tests {
		if got := wildcardMatch(tc.s, tc.mask); got != tc.ok {
			t.Errorf("wildcardMatch(%q, %q) = %v", tc.s, tc.mask, got)
		}
	}
}
