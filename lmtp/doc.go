// Package lmtp delivers mail over LMTP (RFC 2033) into Maildirs through
// [maildirbackend.Backend.Deliver], so that a user's IDLE clients see a
// message as soon as it is stored, without waiting for inotify.
//
// It replaces Dovecot's LMTP service for Postfix's
// `virtual_transport = lmtp:unix:private/...` and `mailbox_transport`.
// Recipients are resolved at RCPT by [Options.Lookup]; an unknown one is
// refused there (550 5.1.1) and the others of the same transaction are still
// delivered. After DATA each recipient gets its own reply:
//
//	250 2.0.0  delivered
//	550 5.1.1  unknown user (at RCPT)
//	452 4.3.1  the mail store is full (ENOSPC)
//	552 5.2.2  the user's quota is exhausted: Maildir++ quota, or EDQUOT
//	           (452 4.2.2 with Options.QuotaFullTempfail)
//	552 5.3.4  the message exceeds the size limit
//	451 4.3.0  any other failure (the MTA retries)
//
// The protocol engine is github.com/emersion/go-smtp in LMTP mode.
package lmtp
