package imapsort_test

import (
	"slices"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

func TestSort_rules(t *testing.T) {
	at := func(h int) time.Time { return day0.Add(time.Duration(h) * time.Hour) }
	msgs := []imapsort.Message{
		{ID: 1, Arrival: at(3), Date: at(1), Size: 300, Subject: "Re: b",
			From: imapsort.Address{Name: "Zed", Mailbox: "amy", Host: "x"}, To: imapsort.Address{Mailbox: "c", Host: "x"}},
		{ID: 2, Arrival: at(2), Date: at(2), Size: 100, Subject: "a",
			From: imapsort.Address{Mailbox: "Bob", Host: "x"}, Cc: imapsort.Address{Mailbox: "c"}},
		{ID: 3, Arrival: at(1), Size: 200, Subject: "B",
			From: imapsort.Address{Name: "", Mailbox: "bob", Host: "y"}, To: imapsort.Address{Name: "Al", Mailbox: "z", Host: "x"}},
		{ID: 4, Arrival: at(1), Date: at(9), Size: 100},
	}
	tests := []struct {
		name     string
		criteria []imapsort.Criterion
		want     []uint32
	}{
		{"no criteria: ID order", nil, []uint32{1, 2, 3, 4}},
		{"arrival, ties by ID", []imapsort.Criterion{{Key: imapsort.Arrival}}, []uint32{3, 4, 2, 1}},
		{"reverse arrival keeps ties ascending", []imapsort.Criterion{{Key: imapsort.Arrival, Reverse: true}}, []uint32{1, 2, 3, 4}},
		{"date falls back to arrival", []imapsort.Criterion{{Key: imapsort.Date}}, []uint32{1, 3, 2, 4}},
		{"size", []imapsort.Criterion{{Key: imapsort.Size}}, []uint32{2, 4, 3, 1}},
		{"reverse size", []imapsort.Criterion{{Key: imapsort.Size, Reverse: true}}, []uint32{1, 3, 2, 4}},
		{"subject: empty first, base subject, case-insensitive", []imapsort.Criterion{{Key: imapsort.Subject}}, []uint32{4, 2, 1, 3}},
		{"subject then reverse size", []imapsort.Criterion{{Key: imapsort.Subject}, {Key: imapsort.Size, Reverse: true}}, []uint32{4, 2, 1, 3}},
		{"subject then reverse date, equal dates by ID", []imapsort.Criterion{{Key: imapsort.Subject}, {Key: imapsort.Date, Reverse: true}}, []uint32{4, 2, 1, 3}},
		{"from: mailbox only", []imapsort.Criterion{{Key: imapsort.From}}, []uint32{4, 1, 2, 3}},
		{"displayfrom: name, else mailbox@host", []imapsort.Criterion{{Key: imapsort.DisplayFrom}}, []uint32{4, 2, 3, 1}},
		{"to", []imapsort.Criterion{{Key: imapsort.To}}, []uint32{2, 4, 1, 3}},
		{"displayto", []imapsort.Criterion{{Key: imapsort.DisplayTo}}, []uint32{2, 4, 3, 1}},
		{"cc: a mailbox without host", []imapsort.Criterion{{Key: imapsort.Cc}}, []uint32{1, 3, 4, 2}},
		{"unknown key compares equal", []imapsort.Criterion{{Key: imapsort.Key(99)}}, []uint32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imapsort.Sort(msgs, tt.criteria); !slices.Equal(got, tt.want) {
				t.Errorf("Sort(%v) = %v; want %v", tt.criteria, got, tt.want)
			}
		})
	}
}

func TestSort_displayFallbacks(t *testing.T) {
	msgs := []imapsort.Message{
		{ID: 1, From: imapsort.Address{Mailbox: "b"}},              // "b"
		{ID: 2, From: imapsort.Address{Mailbox: "a", Host: "z"}},   // "a@z"
		{ID: 3, From: imapsort.Address{Name: "a@y", Mailbox: "q"}}, // "a@y"
		{ID: 4}, // ""
		{ID: 5, From: imapsort.Address{Host: "h"}}, // ""
	}
	want := []uint32{4, 5, 3, 2, 1}
	if got := imapsort.Sort(msgs, []imapsort.Criterion{{Key: imapsort.DisplayFrom}}); !slices.Equal(got, want) {
		t.Errorf("Sort DISPLAYFROM = %v; want %v", got, want)
	}
}

func TestSort_doesNotModify(t *testing.T) {
	msgs := []imapsort.Message{{ID: 3, Size: 1}, {ID: 1, Size: 2}, {ID: 2, Size: 0}}
	orig := slices.Clone(msgs)
	got := imapsort.Sort(msgs, []imapsort.Criterion{{Key: imapsort.Size}})
	if !slices.Equal(got, []uint32{2, 3, 1}) {
		t.Errorf("Sort SIZE = %v", got)
	}
	if !slices.Equal(msgs, orig) {
		t.Errorf("Sort modified its input: %v", msgs)
	}
}

func TestKey_String(t *testing.T) {
	if got := imapsort.DisplayTo.String(); got != "DISPLAYTO" {
		t.Errorf("DisplayTo.String() = %q", got)
	}
	if got := imapsort.Key(-1).String(); got != "Key(-1)" {
		t.Errorf("Key(-1).String() = %q", got)
	}
}
