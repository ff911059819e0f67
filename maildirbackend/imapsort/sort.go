package imapsort

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Message is what SORT and THREAD need of one message, filled by the caller
// from its parsed header. The zero value of a field means the header field
// is absent.
type Message struct {
	ID         uint32    // sequence number or UID: what the answer lists; not 0
	Arrival    time.Time // INTERNALDATE
	Date       time.Time // Date header field; zero when absent or unparseable (Arrival is used then)
	Size       int64     // RFC822.SIZE
	Subject    string    // Subject header field, decoded from RFC 2047 encoded words
	From       Address   // first address of the From field; zero when none
	To         Address   // first address of the To field; zero when none
	Cc         Address   // first address of the Cc field; zero when none
	MessageID  string    // Message-ID header field, raw
	InReplyTo  string    // In-Reply-To header field, raw
	References string    // References header field, raw
}

// Address is one address of a header field, as in an IMAP ENVELOPE. The
// sort keys match Dovecot's when it is the first address of the ENVELOPE
// list as Dovecot builds it (maildirbackend/imapmsg does): the start marker
// of a group is an address whose Mailbox is the group name, a comment after
// a bare addr-spec is the Name, and missing parts are "MISSING_MAILBOX" and
// "MISSING_DOMAIN".
type Address struct {
	Name    string // display name, decoded from RFC 2047 encoded words
	Mailbox string // local part (addr-mailbox)
	Host    string // domain (addr-host)
}

// Key is a sort key of SORT (RFC 5256) and SORT=DISPLAY (RFC 5957).
type Key int

// The sort keys. Strings compare with the i;unicode-casemap collation, the
// empty string (an absent header field) first; dates compare to the second.
const (
	Arrival     Key = iota // INTERNALDATE
	Cc                     // addr-mailbox of the first Cc address
	Date                   // sent date: the Date field, or INTERNALDATE without a valid one
	From                   // addr-mailbox of the first From address
	Size                   // RFC822.SIZE
	Subject                // base subject (see BaseSubject)
	To                     // addr-mailbox of the first To address
	DisplayFrom            // display name of the first From address, else mailbox@host
	DisplayTo              // display name of the first To address, else mailbox@host
)

var keyNames = [...]string{"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}

// String returns the IMAP name of k ("DISPLAYFROM"), or "Key(n)" for an
// unknown key.
func (k Key) String() string {
	if k >= 0 && int(k) < len(keyNames) {
		return keyNames[k]
	}
	return "Key(" + strconv.Itoa(int(k)) + ")"
}

// Criterion is one sort criterion of SORT: a key, in descending order when
// Reverse is set.
type Criterion struct {
	Key     Key
	Reverse bool
}

// Sort returns the IDs of msgs ordered by criteria, the first criterion
// deciding first (RFC 5256 SORT). Messages equal under every criterion keep
// the order of their IDs, ascending, whatever Reverse says: the implicit
// last criterion of RFC 5256 is the sequence number, which orders like the
// UID. A Key that is not one of the constants above compares all messages
// equal. Sort does not modify msgs; it is safe for concurrent use.
func Sort(msgs []Message, criteria []Criterion) []uint32 {
	// The values of message i are at i*k ... i*k+k-1 of strs and nums.
	k := len(criteria)
	strs := make([]string, len(msgs)*k)
	nums := make([]int64, len(msgs)*k)
	order := make([]int, len(msgs))
	for i := range msgs {
		order[i] = i
		for j, c := range criteria {
			strs[i*k+j], nums[i*k+j] = sortValue(&msgs[i], c.Key)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		for j, c := range criteria {
			r := cmp.Compare(nums[a*k+j], nums[b*k+j])
			if r == 0 {
				r = strings.Compare(strs[a*k+j], strs[b*k+j])
			}
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Or(cmp.Compare(msgs[a].ID, msgs[b].ID), cmp.Compare(a, b))
	})
	ids := make([]uint32, len(order))
	for i, o := range order {
		ids[i] = msgs[o].ID
	}
	return ids
}

// sortValue returns the value of m that k compares: a collation key or a
// number (the other one is zero).
func sortValue(m *Message, k Key) (string, int64) {
	switch k {
	case Arrival:
		return "", m.Arrival.Unix()
	case Cc:
		return casemap(m.Cc.Mailbox), 0
	case Date:
		return "", sentDate(m)
	case From:
		return casemap(m.From.Mailbox), 0
	case Size:
		return "", m.Size
	case Subject:
		key, _ := subjectKey(m.Subject)
		return key, 0
	case To:
		return casemap(m.To.Mailbox), 0
	case DisplayFrom:
		return casemap(displayName(m.From)), 0
	case DisplayTo:
		return casemap(displayName(m.To)), 0
	}
	return "", 0
}

// sentDate returns the sent date of m in seconds since the epoch (RFC 5256
// section 2.2): its Date field, or INTERNALDATE when that is missing or
// could not be parsed.
func sentDate(m *Message) int64 {
	if m.Date.IsZero() {
		return m.Arrival.Unix()
	}
	return m.Date.Unix()
}

// displayName returns the DISPLAY sort value of a (RFC 5957 section 3): the
// display name if not empty, else mailbox@host, else the mailbox.
func displayName(a Address) string {
	switch {
	case a.Name != "":
		return a.Name
	case a.Mailbox != "" && a.Host != "":
		return a.Mailbox + "@" + a.Host
	}
	return a.Mailbox
}
