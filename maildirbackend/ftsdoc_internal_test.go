package maildirbackend

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// TestFTSDoc_partial: a message is flagged partial when a word is cut for
// its length or it has more distinct words than are recorded, and not
// otherwise; its words are the distinct ones, body apart from headers.
func TestFTSDoc_partial(t *testing.T) {
	many := make([]string, ftsMaxDocWords+1)
	for i := range many {
		many[i] = fmt.Sprintf("w%d", i)
	}
	tests := []struct {
		name    string
		body    string
		partial bool
		nBody   int
	}{
		{"plain", "apple apple Banana", false, 2},
		{"long token", "apple " + strings.Repeat("x", imapmsg.MaxWord+1), true, 1},
		{"longest recorded", "apple " + strings.Repeat("x", imapmsg.MaxWord), false, 2},
		{"too many words", strings.Join(many, " "), true, ftsMaxDocWords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := "Subject: Hello apple\r\n\r\n" + tt.body + "\r\n"
			p, err := imapmsg.Parse(strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			d, err := ftsDoc(p, strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			if d.Partial != tt.partial || len(d.Body) != tt.nBody {
				t.Fatalf("partial %v, %d body words; want %v, %d", d.Partial, len(d.Body), tt.partial, tt.nBody)
			}
			slices.Sort(d.Header)
			if !slices.Equal(d.Header, []string{"apple", "hello", "subject"}) {
				t.Fatalf("header words %q", d.Header)
			}
			if len(d.Terms) == 0 {
				t.Fatal("no trigrams")
			}
		})
	}
}
