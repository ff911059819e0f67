// Package maildirbackend serves Maildir++ trees over IMAP as a go-imap v2
// [imapserver.Session]. It owns everything between the IMAP command and the
// files on disk: mailbox names and folders, UIDs, flags and keywords, message
// parsing, search, append, copy, move and expunge.
//
// The files stay the single source of truth, and other programs (an MTA,
// Dovecot, mutt, mbsync) may change them at any moment. The backend keeps one
// in-memory state per open folder per process, reconciles it with the disk
// whenever the [watch] package reports a change, and fans every change out to
// the sessions through the [idle] package.
//
// Files read and written, per folder (Dovecot's default Maildir++ layout):
//
//   - new/, cur/, tmp/: the messages. Flag changes are renames; contents are
//     never rewritten. New files are written in tmp/, fsynced and renamed.
//   - dovecot-uidlist: UIDVALIDITY, next UID and the UID of every key, in
//     Dovecot's version 3 format, appended to or rewritten under
//     dovecot-uidlist.lock exactly as Dovecot does, so both servers can share
//     a tree.
//   - dovecot-keywords: the keyword of each file name letter a–z.
//   - maildir-imapd.cache: our own cache of what messages' contents answer
//     (ENVELOPE, BODYSTRUCTURE, RFC822.SIZE, the header fields clients
//     list), a bbolt database keyed by message key (cachefile.go). It may be
//     deleted at any time; a damaged or foreign one is replaced, and so is
//     one truncated in place while open (internal/boltguard).
//   - maildirfolder: created with every folder but INBOX.
//   - maildir-imapd.index: our own (a bbolt file, internal/folderindex): the
//     MODSEQ and last known flags of every UID, HIGHESTMODSEQ and the
//     expunged UIDs (modseq.go). It may be deleted at any time: it is
//     rebuilt, with MODSEQs above the old ones. One truncated in place while
//     open is dropped (internal/boltguard).
//   - maildir-imapd.fts/: the folder's full-text index for SEARCH BODY and
//     TEXT (our own format, internal/fts): seg-N segment files and lock,
//     flocked by the one process that writes it (Options.NoFullTextIndex:
//     none).
//
// In the Maildir root: subscriptions (Dovecot's v2 format),
// dovecot-uidvalidity (the UIDVALIDITY of new folders),
// maildir-imapd-specialuse (SPECIAL-USE attributes set by CREATE, our own
// file) and, for a moment during DELETE, ..DOVECOT-TRASHED (the name Dovecot
// uses: a folder is renamed there, then removed). Dovecot's binary
// index files (dovecot.index*, dovecot.list.index*) are never read, written
// or deleted.
//
// With Options.Quota, maildirsize (Maildir++ quota, as Courier and Dovecot's
// maildir quota keep it) in the root, or in the CONTROL= directory: a line
// appended per change, the file recalculated and renamed over when it must
// be (quota.go, internal/maildirsize).
//
// With Options.ControlDir (Dovecot's CONTROL=), dovecot-uidlist,
// dovecot-keywords, maildir-imapd.index and maildir-imapd.cache live in
// <control>/.INBOX and <control>/.<folder>, and
// subscriptions and dovecot-uidvalidity in <control>, as Dovecot 2.3 lays
// them out; messages stay in the Maildir.
package maildirbackend
