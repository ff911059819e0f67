package idle

import "github.com/emersion/go-imap/v2"

// UpdateWriter is where a View writes a session's updates. go-imap's
// *imapserver.UpdateWriter and the project's *imapd.UpdateWriter both
// implement it.
type UpdateWriter interface {
	WriteExpunge(seqNum uint32) error
	WriteNumMessages(n uint32) error
	WriteMailboxFlags(flags []imap.Flag) error
	WriteMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag) error
}
