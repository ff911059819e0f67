package maildirbackend

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapserver"
)

func TestListMatcher_cases(t *testing.T) {
	tests := []struct {
		name, ref, pattern, mailbox string
		want                        bool
	}{
		{"star crosses levels", "", "*", "a.b.c", true},
		{"percent stops at delimiter", "", "%", "a.b", false},
		{"percent one level", "", "a.%", "a.b", true},
		{"reference concatenated", "Work", "%", "Work", true},
		{"reference without delimiter", "Work", "%", "Work.Clients", false},
		{"reference with delimiter", "Work.", "%", "Work.Clients", true},
		{"INBOX reference", "INBOX", "*", "INBOX", true},
		{"inbox any case", "inbox", "*", "INBOX.x", true},
		{"inbox case only for INBOX", "", "inboxes", "INBOXES", false},
		{"other names case-sensitive", "", "work", "Work", false},
		{"mixed run is a star", "", "a%*%b", "a.x.b", true},
		{"percent run", "", "a%%%b", "a.b", false},
		{"many stars", "", strings.Repeat("*", 5000) + "Q", strings.Repeat("x", 200), false},
		{"empty pattern", "", "", "", true},
		{"utf-8", "", "Entw%", "Entwürfe", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newListMatcher(tt.ref, tt.pattern).match(tt.mailbox); got != tt.want {
				t.Errorf("match(%q+%q, %q) = %v, want %v", tt.ref, tt.pattern, tt.mailbox, got, tt.want)
			}
		})
	}
}

// TestListMatcher_sameAsGoIMAP compares with go-imap's backtracking
// MatchList on small random patterns, where it is fast: same answers
// (patterns starting with the delimiter excepted, which go-imap treats as
// absolute).
func TestListMatcher_sameAsGoIMAP(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet string, n int) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 20000; i++ {
		pattern := gen("ab.*%", 7)
		name := gen("ab.", 7)
		if strings.HasPrefix(pattern, ".") {
			continue
		}
		want := imapserver.MatchList(name, Delim, "", pattern)
		if got := newListMatcher("", pattern).match(name); got != want {
			t.Fatalf("match(%q, %q) = %v, go-imap says %v", pattern, name, got, want)
		}
	}
}

// BenchmarkListMatcher matches a 40-byte name against "*…*Q" with k stars,
// the pattern that takes go-imap's MatchList seconds at k=50.
func BenchmarkListMatcher(b *testing.B) {
	name := "Archive.2024.Projects.Clients.Invoices.x"
	for _, k := range []int{50, 2000} {
		b.Run("stars="+strconv.Itoa(k), func(b *testing.B) {
			m := newListMatcher("", strings.Repeat("*", k)+"Q")
			for b.Loop() {
				m.match(name)
			}
		})
	}
	b.Run("segments=200", func(b *testing.B) {
		m := newListMatcher("", strings.Repeat("*a", 200)+"Q")
		long := strings.Repeat("a", 200)
		for b.Loop() {
			m.match(long)
		}
	})
}
