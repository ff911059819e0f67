package imapsort_test

import (
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

var day0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// msg is a message with ID id, sent hour hours after day0, with a subject
// and Message-ID and References fields.
func msg(id uint32, hour int, subject, messageID, references string) imapsort.Message {
	return imapsort.Message{
		ID:         id,
		Arrival:    day0.Add(1000 * time.Hour),
		Date:       day0.Add(time.Duration(hour) * time.Hour),
		Subject:    subject,
		MessageID:  messageID,
		References: references,
	}
}

func TestReferences_rules(t *testing.T) {
	tests := []struct {
		name string
		msgs []imapsort.Message
		want string
	}{
		{"none", nil, ""},
		{"reply chain", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 2, "b", "<2@x>", "<1@x>"),
			msg(3, 3, "c", "<3@x>", "<1@x> <2@x>"),
		}, "(1 2 3)"},
		{"siblings by date then ID", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 5, "b", "<2@x>", "<1@x>"),
			msg(3, 3, "c", "<3@x>", "<1@x>"),
			msg(4, 3, "d", "<4@x>", "<1@x>"),
		}, "(1 (3)(4)(2))"},
		{"roots by date", []imapsort.Message{
			msg(1, 9, "a", "<1@x>", ""),
			msg(2, 1, "b", "<2@x>", ""),
		}, "(2)(1)"},
		{"missing parent of one message is pruned", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", "<gone@x>"),
		}, "(1)"},
		{"missing parent of two messages stays", []imapsort.Message{
			msg(1, 2, "a", "<1@x>", "<gone@x>"),
			msg(2, 1, "b", "<2@x>", "<gone@x>"),
		}, "((2)(1))"},
		{"missing parent inside a thread is spliced", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 2, "b", "<2@x>", "<1@x> <gone@x>"),
			msg(3, 3, "c", "<3@x>", "<1@x> <gone@x>"),
		}, "(1 (2)(3))"},
		{"parent arrives later", []imapsort.Message{
			msg(1, 2, "b", "<2@x>", "<1@x>"),
			msg(2, 1, "a", "<1@x>", ""),
		}, "(2 1)"},
		{"last reference wins over a guessed parent", []imapsort.Message{
			// 1's References make 3 a child of 2; 3's own say 4.
			msg(1, 1, "a", "<1@x>", "<2@x> <3@x>"),
			msg(2, 2, "b", "<2@x>", ""),
			msg(3, 3, "c", "<3@x>", "<4@x>"),
			msg(4, 4, "d", "<4@x>", ""),
		}, "(2)(4 3 1)"},
		{"References truncated: an existing parent is kept", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 2, "b", "<2@x>", "<1@x>"),
			msg(3, 3, "c", "<3@x>", "<other@x> <2@x>"),
		}, "(1 2 3)"},
		{"In-Reply-To when References has no valid ID", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			{ID: 2, Date: day0.Add(2 * time.Hour), Subject: "b", MessageID: "<2@x>", References: "garbage", InReplyTo: "text <1@x> <3@x>"},
			msg(3, 3, "c", "<3@x>", ""),
		}, "(1 2)(3)"},
		{"References before In-Reply-To", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			{ID: 2, Date: day0.Add(2 * time.Hour), Subject: "b", MessageID: "<2@x>", References: "<3@x>", InReplyTo: "<1@x>"},
			msg(3, 3, "c", "<3@x>", ""),
		}, "(1)(3 2)"},
		{"duplicate Message-ID: the lowest ID owns it", []imapsort.Message{
			msg(2, 2, "a", "<1@x>", ""),
			msg(1, 1, "b", "<1@x>", ""),
			msg(3, 3, "c", "<3@x>", "<1@x>"),
		}, "(1 3)(2)"},
		{"loop", []imapsort.Message{
			msg(1, 1, "a", "<a@x>", "<b@x>"),
			msg(2, 2, "b", "<b@x>", "<a@x>"),
		}, "(2 1)"},
		{"self reference", []imapsort.Message{
			msg(1, 1, "a", "<a@x>", "<a@x>"),
		}, "(1)"},
		{"loop inside References", []imapsort.Message{
			msg(1, 1, "a", "<a@x>", "<p@x> <q@x> <p@x>"),
		}, "(1)"},
		{"quoting is normalized", []imapsort.Message{
			msg(1, 1, "a", `<"a.b"@x>`, ""),
			msg(2, 2, "b", "<2@x>", "<a.b@x>"),
		}, "(1 2)"},
		{"IDs are case-sensitive", []imapsort.Message{
			msg(1, 1, "a", "<A@x>", ""),
			msg(2, 2, "b", "<2@x>", "<a@x>"),
		}, "(1)(2)"},
		{"no Message-ID", []imapsort.Message{
			msg(1, 1, "a", "", ""),
			msg(2, 2, "b", "", ""),
		}, "(1)(2)"},
		{"subject: reply under the original", []imapsort.Message{
			msg(1, 1, "Re: topic", "<1@x>", ""),
			msg(2, 2, "topic", "<2@x>", ""),
		}, "(2 1)"},
		{"subject: two originals under a dummy", []imapsort.Message{
			msg(1, 1, "topic", "<1@x>", ""),
			msg(2, 2, "[list] topic", "<2@x>", ""),
			msg(3, 3, "Re: topic", "<3@x>", ""),
		}, "((1)(2)(3))"},
		{"subject: two replies under a dummy", []imapsort.Message{
			msg(1, 1, "Re: topic", "<1@x>", ""),
			msg(2, 2, "Fwd: topic", "<2@x>", ""),
		}, "((1)(2))"},
		{"subject: message joins a dummy", []imapsort.Message{
			msg(1, 1, "topic", "<1@x>", "<gone@x>"),
			msg(2, 2, "topic", "<2@x>", "<gone@x>"),
			msg(3, 0, "topic", "<3@x>", ""),
		}, "((3)(1)(2))"},
		{"subject: two dummies merge", []imapsort.Message{
			msg(1, 1, "topic", "<1@x>", "<gone1@x>"),
			msg(2, 2, "topic", "<2@x>", "<gone1@x>"),
			msg(3, 3, "Re: topic", "<3@x>", "<gone2@x>"),
			msg(4, 4, "Re: topic", "<4@x>", "<gone2@x>"),
		}, "((1)(2)(3)(4))"},
		{"subject: a dummy's subject is its first child's", []imapsort.Message{
			msg(1, 2, "other", "<1@x>", "<gone@x>"),
			msg(2, 1, "topic", "<2@x>", "<gone@x>"),
			msg(3, 3, "topic", "<3@x>", ""),
		}, "((2)(1)(3))"},
		{"subject: empty subjects are not merged", []imapsort.Message{
			msg(1, 1, "", "<1@x>", ""),
			msg(2, 2, "Re:", "<2@x>", ""),
		}, "(1)(2)"},
		{"subject: a thread's children are not merged", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 2, "topic", "<2@x>", "<1@x>"),
			msg(3, 3, "topic", "<3@x>", ""),
		}, "(1 2)(3)"},
		{"sent date falls back to arrival", []imapsort.Message{
			{ID: 1, Arrival: day0.Add(5 * time.Hour), Subject: "a", MessageID: "<1@x>"},
			msg(2, 3, "b", "<2@x>", ""),
		}, "(2)(1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imapsort.Format(imapsort.References(tt.msgs)); got != tt.want {
				t.Errorf("References = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestOrderedSubject_rules(t *testing.T) {
	tests := []struct {
		name string
		msgs []imapsort.Message
		want string
	}{
		{"none", nil, ""},
		{"one per subject", []imapsort.Message{
			msg(1, 2, "b", "", ""),
			msg(2, 1, "a", "", ""),
		}, "(2)(1)"},
		{"two of a subject", []imapsort.Message{
			msg(1, 2, "Re: a", "", ""),
			msg(2, 1, "A", "", ""),
		}, "(2 1)"},
		{"children by date then ID, no grandchildren", []imapsort.Message{
			msg(1, 1, "a", "<1@x>", ""),
			msg(2, 3, "Re: a", "<2@x>", "<1@x>"),
			msg(3, 2, "Re: Re: a", "<3@x>", "<2@x>"),
			msg(4, 2, "a (fwd)", "", ""),
		}, "(1 (3)(4)(2))"},
		{"empty subjects are one thread", []imapsort.Message{
			msg(1, 1, "", "", ""),
			msg(2, 2, "Re:", "", ""),
		}, "(1 2)"},
		{"threads by the date of their first message", []imapsort.Message{
			msg(1, 5, "a", "", ""),
			msg(2, 1, "b", "", ""),
			msg(3, 9, "b", "", ""),
			msg(4, 5, "c", "", ""),
		}, "(2 3)(1)(4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imapsort.Format(imapsort.OrderedSubject(tt.msgs)); got != tt.want {
				t.Errorf("OrderedSubject = %q; want %q", got, tt.want)
			}
		})
	}
}
