package maildirbackend_test

import "github.com/maildir-imapd/maildir-imapd/maildirbackend"

// mfModes run each truncation twice: as the server runs (a file that
// shrank is noticed before a transaction maps it), and with that check off,
// so that the transaction reads the lost pages and the fault itself is
// what the server survives (a truncation racing the check).
var mfModes = []struct {
	name string
	set  func() (restore func())
}{
	{"checked", func() func() { return func() {} }},
	{"faulting", func() func() { return maildirbackend.SetMapSizeCheck(false) }},
}
