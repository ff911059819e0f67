// Package idle owns the per-process state of every selected mailbox and each
// session's view of it, and turns mailbox changes into the untagged responses
// a client must see: "* N EXPUNGE", "* N EXISTS", "* FLAGS (...)" and
// "* N FETCH (UID u FLAGS (...))".
//
// It replaces go-imap's imapserver.MailboxTracker and imapserver.SessionTracker.
// Those keep a message count and a growing queue of updates per session; they
// panic when the count goes down, mis-map sequence numbers when one EXISTS
// announces more than one message, and do not flush pending updates when IDLE
// starts. This package instead reconciles state:
//
//   - A [Mailbox] holds the current, immutable, sorted UID list of one mailbox
//     (a snapshot replaced copy-on-write by [Mailbox.Apply]), its FLAGS list
//     and the set of registered views.
//   - A [View] is one session's view of that mailbox: the UID list the client
//     has been told about (index i is sequence number i+1), plus the flag
//     changes and FLAGS list not yet sent. [View.Poll] diffs the view against
//     the mailbox snapshot and writes the responses through an
//     [imapserver.UpdateWriter]; [View.Idle] does the same whenever the
//     mailbox changes, starting with an immediate flush.
//
// A view that is up to date shares the mailbox's snapshot slice and holds no
// map, so a thousand idle views of one mailbox cost one slice. A view that
// never polls holds at most one old snapshot and a flag map bounded by the
// mailbox size: pending flag changes collapse to the latest flags per UID.
//
// Callers speak only in UIDs ([Change]); sequence numbers exist only per view
// ([View.SeqNum], [View.UID]). The package imports only go-imap and the
// standard library, never writes to a client while holding a lock, and never
// panics on any input.
package idle
