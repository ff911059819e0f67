package imapsort

import (
	"slices"
	"testing"
)

func TestMsgIDs_parse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"none", "", nil},
		{"one", "<a@b>", []string{"a@b"}},
		{"several", "<a@b> <c@d>\r\n\t<e@f>", []string{"a@b", "c@d", "e@f"}},
		{"quoted local part", `<"a.b"@host>`, []string{"a.b@host"}},
		{"space in a quoted local part stays", "<\"a b\"@host> <\"a\r\n b\"@host>", []string{"a b@host", "a b@host"}},
		{"quoted pair", `<"a\"b"@host>`, []string{`a"b@host`}},
		{"spaces stripped", "< a@b >", []string{"a@b"}},
		{"comment", "<a(comment)@b>", []string{"a@b"}},
		{"obsolete spaces in dot-atom", `<a . b@"c">`, nil},
		{"domain literal", "<id@[192.0.2.1]>", []string{"id@[192.0.2.1]"}},
		{"no at sign", "<nothing-here> <a@b>", []string{"a@b"}},
		{"text around", "Bob's message of Monday <re1@example.net> and more", []string{"re1@example.net"}},
		{"unclosed", "<a@b", nil},
		// Dovecot's fast path takes everything up to ">" when it holds an
		// "@" and no quote, comment or bracket, "<" included.
		{"unclosed then valid", "<x <a@b>", []string{"x<a@b"}},
		{"case kept", "<A@B>", []string{"A@B"}},
		{"bracket in local part", "<[a]@b> <c@d>", []string{"c@d"}},
		{"utf-8", "<é@example.org>", []string{"é@example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := msgIDs(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("msgIDs(%q) = %q; want %q", tt.in, got, tt.want)
			}
			want := ""
			if len(tt.want) > 0 {
				want = tt.want[0]
			}
			if got := firstMsgID(tt.in); got != want {
				t.Errorf("firstMsgID(%q) = %q; want %q", tt.in, got, want)
			}
		})
	}
}
