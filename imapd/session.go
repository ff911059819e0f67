package imapd

import (
	"github.com/emersion/go-imap/v2"
)

// NumKind says whether a command's numbers are sequence numbers or UIDs.
type NumKind int

const (
	NumKindSeq NumKind = iota // sequence numbers
	NumKindUID                // UIDs (the UID form of the command)
)

// Session is what a backend implements for one connection. The engine
// parses each command, checks the connection state, and calls one method;
// a method returns an *imap.Error for a NO, BAD or BYE the client should
// see, any other error for a server failure (NO [SERVERBUG], logged).
//
// The method set is that of go-imap v2's imapserver.Session with the
// engine's writer types, so that one backend can serve both.
type Session interface {
	// Close is called once when the connection ends.
	Close() error

	// Login checks credentials (LOGIN and AUTHENTICATE PLAIN/LOGIN).
	Login(username, password string) error

	Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error)
	Create(mailbox string, options *imap.CreateOptions) error
	Delete(mailbox string) error
	Rename(mailbox, newName string, options *imap.RenameOptions) error
	Subscribe(mailbox string) error
	Unsubscribe(mailbox string) error
	List(w *ListWriter, ref string, patterns []string, options *imap.ListOptions) error
	Status(mailbox string, options *imap.StatusOptions) (*imap.StatusData, error)
	Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error)
	Namespace() (*imap.NamespaceData, error)
	// Poll writes the updates of the selected mailbox after a command;
	// EXPUNGE responses only when allowExpunge.
	Poll(w *UpdateWriter, allowExpunge bool) error
	// Idle writes updates as they happen until stop is closed.
	Idle(w *UpdateWriter, stop <-chan struct{}) error

	Unselect() error
	Expunge(w *ExpungeWriter, uids *imap.UIDSet) error
	Search(kind NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error)
	Fetch(w *FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error
	Store(w *FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error
	Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error)
	Move(w *MoveWriter, numSet imap.NumSet, dest string) error
}

// SessionUnauthenticate is a Session that supports UNAUTHENTICATE (RFC 8437).
type SessionUnauthenticate interface {
	Unauthenticate() error
}

// SessionAppendLimit is a Session with an APPEND size limit (RFC 7889).
type SessionAppendLimit interface {
	AppendLimit() uint32
}

// SortCriterion is one SORT key (RFC 5256, RFC 5957).
type SortCriterion struct {
	Key     string // ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM, DISPLAYTO
	Reverse bool
}

// SessionSort is a Session that supports SORT, SORT=DISPLAY and ESORT.
type SessionSort interface {
	// Sort returns the numbers (of kind) of the messages that match
	// criteria, in the order the criteria give.
	Sort(kind NumKind, criteria []SortCriterion, search *imap.SearchCriteria) ([]uint32, error)
}

// Thread is one message of a THREAD answer and its replies. Num is 0 for a
// message that is referred to but not in the answer.
type Thread struct {
	Num      uint32
	Children []*Thread
}

// SessionThread is a Session that supports THREAD (RFC 5256).
type SessionThread interface {
	ThreadAlgorithms() []imap.ThreadAlgorithm
	Thread(kind NumKind, alg imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]*Thread, error)
}

// SessionMultiAppend is a Session that supports MULTIAPPEND (RFC 3502):
// the engine stores each message of the command with Append and, when one
// fails, calls CancelAppend with the UIDs stored so far, so that the
// command stores all of its messages or none.
type SessionMultiAppend interface {
	CancelAppend(mailbox string, uids []imap.UID) error
}

// SessionIdleFunc is a Session that idles without a goroutine of its own:
// StartIdle writes the pending updates, arranges for later ones to be
// written through w as they happen, and returns the function that stops
// that. The engine then waits for DONE in the connection's goroutine, so an
// idle connection costs one goroutine, not two. A write error during IDLE
// should end the connection (Conn.Bye).
type SessionIdleFunc interface {
	StartIdle(w *UpdateWriter) (stop func(), err error)
}

// SessionID is a Session that wants to know what the client said of itself
// in an ID command (RFC 2971).
type SessionID interface {
	ClientID(fields map[string]string)
}

// QuotaResource is one resource of a quota root (RFC 9208 section 5): its
// usage and limit, STORAGE in units of 1024 octets.
type QuotaResource struct {
	Name  imap.QuotaResourceType
	Usage int64
	Limit int64
}

// SessionQuota is a Session that supports QUOTA (RFC 9208) for the
// resources QuotaResources names (QUOTA=RES-<name>; none: QUOTA is not
// advertised, and the commands are answered as unknown). A session that offers
// STORAGE answers STATUS DELETED-STORAGE, and one that offers MESSAGE
// answers STATUS DELETED (section 4.2).
type SessionQuota interface {
	QuotaResources() []imap.QuotaResourceType
	// QuotaRoots returns the quota roots of mailbox (none is a valid
	// answer).
	QuotaRoots(mailbox string) ([]string, error)
	// Quota returns the limited resources of root; an *imap.Error (NO)
	// when there is no such root.
	Quota(root string) ([]QuotaResource, error)
	// SetQuota changes root's limits, or refuses with an *imap.Error.
	SetQuota(root string, limits map[imap.QuotaResourceType]int64) error
}

// SessionMetadata is a Session that supports METADATA and METADATA-SERVER
// (RFC 5464): entries on mailboxes, and on the server (mailbox ""). The
// engine parses and checks entry names (metadata.go) and hands them over
// in lower case; it refuses a SETMETADATA over the session's limits while
// reading it, before any value over them is read.
type SessionMetadata interface {
	MetadataLimits() MetadataLimits
	// GetMetadata returns, for each of entries, the entry itself when it
	// has a value and the entries below it down to depth, each list in
	// name order.
	GetMetadata(mailbox string, entries []string, depth MetadataDepth) ([][]MetadataEntry, error)
	// SetMetadata sets every entry (a nil Value removes it), or none.
	SetMetadata(mailbox string, entries []MetadataEntry) error
}
