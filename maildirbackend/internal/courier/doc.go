// Package courier owns the import of Courier-IMAP's state into the Dovecot
// control files the backend runs on, for a migration in place: stop
// Courier-IMAP, start maildir-imapd on the same Maildir++ tree, and clients
// keep their UIDs, keywords and subscriptions (see
// docs/maildir-formats.md sections 2.3 and 7).
//
// Files read, never written, renamed or deleted:
//
//   - courierimapuiddb (per folder): [ReadUIDDB];
//   - courierimapkeywords/ (per folder): [ReadKeywords], Courier's merge of
//     ":list" and the per-message update files, done read-only;
//   - courierimapsubscribed (mail root): [ReadSubscribed].
//
// [Convert] turns one folder's Courier state into dovecot-uidlist and
// dovecot-keywords (plus keyword letters in the message file names), once,
// under dovecot-uidlist.lock; [ConvertSubscriptions] turns
// courierimapsubscribed into Dovecot's subscriptions file. [CompareNames] is
// the order in which Courier hands out UIDs to new files.
//
// The package holds no state; its functions are safe for concurrent use.
package courier
