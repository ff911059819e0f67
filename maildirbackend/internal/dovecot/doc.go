// Package dovecot owns every control file of a Dovecot-written Maildir++
// tree that maildir-imapd reads or writes (see docs/maildir-formats.md
// sections 4-6 and 8):
//
//   - dovecot-uidlist (per folder): [ReadUIDList], [AppendRecords],
//     [WriteUIDList], [NeedsCompaction];
//   - dovecot-uidlist.lock, dovecot-keywords.lock, subscriptions.lock: the
//     dotlock protocol of Dovecot's file-dotlock.c, [Dotlock] and
//     [LockUIDList];
//   - dovecot-keywords (per folder): [ReadKeywords], [WriteKeywords];
//   - dovecot-uidvalidity and its dovecot-uidvalidity.<hex> marker (mail
//     root): [NextUIDValidity];
//   - subscriptions (mail root): [ReadSubscriptions], [WriteSubscriptions].
//
// Files are only ever replaced whole: a new version is written to a temporary
// file (or the dotlock file itself, as Dovecot does), synced and renamed over
// the old one, so a reader never sees a torn file. The one exception is the
// uidlist append, which Dovecot itself does in place and which never changes
// existing bytes.
//
// The package does no caching and holds no global state apart from
// [UIDListStaleTimeout]; all functions are safe for concurrent use as long as
// callers serialise writers with the documented locks.
package dovecot
