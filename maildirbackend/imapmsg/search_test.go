package imapmsg_test

import (
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

func fixtureMsg(t *testing.T, name string) string {
	t.Helper()
	for _, c := range loadFixture(t) {
		if c.File == name {
			return string(c.data)
		}
	}
	t.Fatalf("fixture %s not found", name)
	return ""
}

func TestMatchHeader_cases(t *testing.T) {
	latin1 := fixtureMsg(t, "msg-Entw_APw-rfe-1.eml")
	tests := []struct {
		name, msg, key, value string
		want                  bool
	}{
		{"latin-1 encoded word", latin1, "subject", "GRÜSSE aus", true},
		{"encoded name", latin1, "From", "jörg müller", true},
		{"raw address", latin1, "FROM", "joerg@example.de", true},
		{"no match", latin1, "Subject", "Hamburg", false},
		{"empty value, field present", latin1, "Message-ID", "", true},
		{"empty value, field absent", latin1, "Cc", "", false},
		{"body not header", latin1, "Subject", "Entwurf", false},
		{"utf-8 b-encoded", fixtureMsg(t, "msg-Work-2.eml"), "Subject", "standup notes ✔", true},
		{"folded", nestedMsg, "Subject", "nested folded", true},
		{"address without comments", "From: <a (c)@ (c) b.org>\n\n", "from", "a@b.org", true},
		{"address group", "Bcc: g: \"N\" <x@y>;\n\n", "bcc", "g: n <x@y>;", true},
		{"not an address field", "Reply-To: <a (c)@ (c) b.org>\n\n", "reply-to", "a@b.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := imapmsg.MatchHeader(strings.NewReader(tt.msg), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("MatchHeader(%q, %q) = %v, want %v", tt.key, tt.value, got, tt.want)
			}
		})
	}
}

func TestMatchBody_cases(t *testing.T) {
	latin1 := fixtureMsg(t, "msg-Entw_APw-rfe-1.eml")
	work1 := fixtureMsg(t, "msg-Work-1.eml")
	tests := []struct {
		name, msg, value string
		text, want       bool
	}{
		{"latin-1 8bit body", latin1, "MÜNCHEN", false, true},
		{"header not in body", latin1, "joerg@example.de", false, false},
		{"header in text", latin1, "joerg@example.de", true, true},
		{"qp utf-8", work1, "bericht märz", false, true},
		{"base64 text attachment", work1, "umsatz märz", false, true},
		{"png not searched", work1, "IHDR", false, false},
		{"nested message body", nestedMsg, "ZANZIBAR", false, true},
		{"nested header only in text", nestedMsg, "inner person", false, false},
		{"nested header in text", nestedMsg, "inner person", true, true},
		{"sharp s folding", nestedMsg, "STRASSE", false, true},
		{"soft line break", nestedMsg, "café softbreak", false, true},
		{"empty matches", latin1, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match := imapmsg.MatchBody
			if tt.text {
				match = imapmsg.MatchText
			}
			got, err := match(strings.NewReader(tt.msg), tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("match(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}
