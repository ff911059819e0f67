package imapsort_test

import (
	"fmt"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

func Example() {
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := []imapsort.Message{
		{ID: 1, Date: day, Subject: "Lunch?", MessageID: "<1@example.org>",
			From: imapsort.Address{Name: "Zoë", Mailbox: "zoe", Host: "example.org"}},
		{ID: 2, Date: day.Add(time.Hour), Subject: "Re: Lunch?", MessageID: "<2@example.org>",
			References: "<1@example.org>", From: imapsort.Address{Mailbox: "bob", Host: "example.org"}},
		{ID: 3, Date: day.Add(2 * time.Hour), Subject: "[team] Budget", MessageID: "<3@example.org>",
			From: imapsort.Address{Name: "Alice", Mailbox: "alice", Host: "example.org"}},
		{ID: 4, Date: day.Add(3 * time.Hour), Subject: "Re: Lunch?", MessageID: "<4@example.org>",
			InReplyTo: "<1@example.org>", From: imapsort.Address{Mailbox: "carol", Host: "example.org"}},
	}

	// SORT (SUBJECT REVERSE DATE) UTF-8 ALL
	fmt.Println(imapsort.Sort(msgs, []imapsort.Criterion{{Key: imapsort.Subject}, {Key: imapsort.Date, Reverse: true}}))
	// SORT (DISPLAYFROM) UTF-8 ALL
	fmt.Println(imapsort.Sort(msgs, []imapsort.Criterion{{Key: imapsort.DisplayFrom}}))
	fmt.Printf("%q\n", imapsort.BaseSubject("[team] Re: Fwd: Budget (fwd)"))
	fmt.Println("* THREAD " + imapsort.Format(imapsort.References(msgs)))
	fmt.Println("* THREAD " + imapsort.Format(imapsort.OrderedSubject(msgs)))
	// Output:
	// [3 4 2 1]
	// [3 2 4 1]
	// "Budget"
	// * THREAD (1 (2)(4))(3)
	// * THREAD (1 (2)(4))(3)
}
