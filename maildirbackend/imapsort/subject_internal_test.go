package imapsort

import "testing"

func TestBaseSubject_rules(t *testing.T) {
	tests := []struct {
		name, in, want string
		reply          bool
	}{
		{"plain", "Project kickoff", "Project kickoff", false},
		{"empty", "", "", false},
		{"spaces collapse", "  a \t b\r\n c  ", "a b c", false},
		{"re", "Re: foo", "foo", true},
		{"re without space", "re:foo", "foo", true},
		{"re with space before colon", "Re : foo", "foo", true},
		{"fw", "FW: foo", "foo", true},
		{"fwd", "Fwd: foo", "foo", true},
		{"fwd with space", "Fwd : foo", "foo", true},
		{"re with blob", "Re[2]: foo", "foo", true},
		{"re, space, blob", "Re [2]: foo", "foo", true},
		{"re with two blobs is not a prefix", "Re[2][3]: foo", "Re[2][3]: foo", false},
		{"repeated", "RE:re:Fw:FWD: foo", "foo", true},
		{"blob then re", "[list] Re: foo", "foo", true},
		{"blob glued to re", "[list]Re:foo", "foo", true},
		{"blobs", "[a] [b] foo", "foo", false},
		{"blob after re", "[x] Re: [y] foo", "foo", true},
		{"last blob stays", "[a][b]", "[b]", false},
		{"only blob", "[foo]", "[foo]", false},
		{"re then only blob", "Re: [foo]", "[foo]", true},
		{"trailer", "foo (fwd)", "foo", true},
		{"trailer any case", "foo (FwD)", "foo", true},
		{"two trailers", "foo (fwd) (fwd)", "foo", true},
		{"trailer not at the end", "foo (fwd) bar", "foo (fwd) bar", false},
		{"fwd wrapper", "[fwd: foo]", "foo", true},
		{"fwd wrapper nested", "Re: Re: [fwd: Re: foo (fwd)]", "foo", true},
		{"fwd wrapper with blob inside", "[fwd: [list] Re: foo] (fwd)", "foo", true},
		{"fwd wrapper not closed", "[fwd:foo", "[fwd:foo", false},
		{"fwd blob with text after", "[fwd: pi] extra", "extra", false},
		{"empty wrapper", "[fwd: ]", "", true},
		{"only re", "Re:", "", true},
		{"only re twice", "Re: Re:", "", true},
		{"only trailer", "(fwd)", "", true},
		{"non-ASCII re is not a prefix", "Ré: foo", "Ré: foo", false},
		{"re needs a colon", "Regarding foo", "Regarding foo", false},
		{"unclosed blob", "[foo bar", "[foo bar", false},
		{"re in the middle", "foo Re: bar", "foo Re: bar", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reply := baseSubject(tt.in)
			if got != tt.want || reply != tt.reply {
				t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tt.in, got, reply, tt.want, tt.reply)
			}
			if got := BaseSubject(tt.in); got != tt.want {
				t.Errorf("BaseSubject(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSubjectKey_casemapFirst(t *testing.T) {
	tests := []struct {
		name, a, b string
		equal      bool
	}{
		{"case", "Re: Apple", "apple", true},
		{"fullwidth letters", "Ａpple", "apple", true},
		{"fullwidth reply prefix", "ＲＥ： nu", "nu", true},
		{"no-break space before colon", "Re\u00a0: nu", "nu", true},
		{"accent is not ignored", "éclair", "eclair", false},
		{"precomposed and combining accent", "\u00e9clair", "e\u0301clair", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, _ := subjectKey(tt.a)
			kb, _ := subjectKey(tt.b)
			if (ka == kb) != tt.equal {
				t.Errorf("subjectKey(%q) = %q, subjectKey(%q) = %q; equal should be %v", tt.a, ka, tt.b, kb, tt.equal)
			}
		})
	}
}

func TestCasemap_order(t *testing.T) {
	// Each string sorts before the next one: an accent is a combining mark
	// after its letter, and combining marks sort after ASCII.
	ordered := []string{"", "a", "B", "c", "ǅ", "e", "eclair", "Ezra", "éclair", "z"}
	for i := 0; i+1 < len(ordered); i++ {
		if a, b := casemap(ordered[i]), casemap(ordered[i+1]); a >= b {
			t.Errorf("casemap(%q) = %q is not before casemap(%q) = %q", ordered[i], a, ordered[i+1], b)
		}
	}
	if a, b := casemap("ǆ"), casemap("DŽ"); a != b {
		t.Errorf("casemap(ǆ) = %q, casemap(DŽ) = %q; want equal", a, b)
	}
	if got := casemap("\xff"); got != casemap("\uFFFD") {
		t.Errorf("invalid UTF-8: got %q", got)
	}
}

// TestCasemap_rfc5051NotDovecot pins the keys where this package follows
// RFC 5051 and Dovecot 2.3.19 does not (see the package doc): equal here,
// different in Dovecot.
func TestCasemap_rfc5051NotDovecot(t *testing.T) {
	for _, pair := range [][2]string{
		{"ﬁsh", "FISH"},
		{"№", "NO"},
		{"ǈ", "LJ"},
		{"ǅemal", "DŽEMAL"},
		{"\u212bngström", "Ångström"},
		{"ﬀ", "FF"},
	} {
		if a, b := casemap(pair[0]), casemap(pair[1]); a != b {
			t.Errorf("casemap(%q) = %q, casemap(%q) = %q; want equal", pair[0], a, pair[1], b)
		}
	}
}
