package idle

import (
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Change describes one update of a mailbox, in UIDs. The zero value changes
// nothing. [Mailbox.Apply] does not keep or modify the slices and map of a
// Change; the caller may reuse them afterwards.
type Change struct {
	// Expunged lists the UIDs removed from the mailbox, in any order. UIDs
	// not in the mailbox are ignored.
	Expunged []imap.UID
	// Added lists new UIDs, in any order. RFC 3501 section 2.3.1.1: UIDs
	// grow, so only UIDs greater than every UID the mailbox has ever held are
	// added; others (duplicates, reused or out-of-order UIDs, zero) are
	// ignored, because announcing them would renumber messages that clients
	// already know. A UID both added and expunged in one Change is not added.
	Added []imap.UID
	// Flags maps a UID to its complete new flag list (not a delta). UIDs not
	// in the mailbox after the change are ignored.
	Flags map[imap.UID][]imap.Flag
	// MailboxFlags is the new full FLAGS list of the mailbox; nil means
	// unchanged. A list equal to the current one is not announced again.
	MailboxFlags []imap.Flag
	// Seen is when the change was first seen on disk (the file-system
	// event that reported it); zero for a change a session made. A view
	// that writes the change reports Seen to its write observer (see
	// [View.SetWriteObserver]): that is the latency of a push.
	Seen time.Time
	// ModSeq is the modification sequence (RFC 7162) the change gave
	// every message it added or whose flags it changed; 0: none. Views of
	// CONDSTORE sessions write it in their FETCH responses (modseq.go).
	ModSeq uint64
}

// sortedUIDs returns a sorted, deduplicated copy of uids without zeros.
func sortedUIDs(uids []imap.UID) []imap.UID {
	if len(uids) == 0 {
		return nil
	}
	out := slices.Clone(uids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out[0] == 0 {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// containsUID reports whether the sorted list uids holds uid.
func containsUID(uids []imap.UID, uid imap.UID) bool {
	_, ok := slices.BinarySearch(uids, uid)
	return ok
}

// seqNumOf returns the 1-based position of uid in the sorted list uids, or 0.
func seqNumOf(uids []imap.UID, uid imap.UID) uint32 {
	i, ok := slices.BinarySearch(uids, uid)
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

// uidUpdate is the result of applying a Change's UID lists to a snapshot.
type uidUpdate struct {
	next    []imap.UID // the new snapshot; == old when !changed
	exp     []imap.UID // sorted, deduplicated Change.Expunged
	gone    []imap.UID // sorted UIDs that were in old and are not in next
	maxUID  imap.UID   // the highest UID ever held, after the change
	changed bool
}

// applyUIDs computes old minus expunged plus the added UIDs above maxUID. It
// never modifies old: when the list changes, next is a new slice.
func applyUIDs(old []imap.UID, maxUID imap.UID, expunged, added []imap.UID) uidUpdate {
	u := uidUpdate{next: old, exp: sortedUIDs(expunged), maxUID: maxUID}
	var add []imap.UID
	for _, uid := range sortedUIDs(added) {
		if uid <= maxUID {
			continue
		}
		u.maxUID = uid // added is sorted, so the last one kept is the max
		if !containsUID(u.exp, uid) {
			add = append(add, uid)
		}
	}
	u.gone = intersectUIDs(old, u.exp)
	if len(u.gone) == 0 && len(add) == 0 {
		return u
	}
	next := make([]imap.UID, 0, len(old)-len(u.gone)+len(add))
	next = appendWithout(next, old, u.gone)
	// Every UID in add is above maxUID, hence above every UID in old.
	u.next = append(next, add...)
	u.changed = true
	return u
}

// intersectUIDs returns the UIDs present in both sorted lists a and b.
func intersectUIDs(a, b []imap.UID) []imap.UID {
	var out []imap.UID
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// appendWithout appends to dst the UIDs of the sorted list src that are not
// in the sorted list drop.
func appendWithout(dst, src, drop []imap.UID) []imap.UID {
	j := 0
	for _, uid := range src {
		for j < len(drop) && drop[j] < uid {
			j++
		}
		if j < len(drop) && drop[j] == uid {
			continue
		}
		dst = append(dst, uid)
	}
	return dst
}

// removeUIDs returns the sorted list src without the UIDs of the sorted list
// drop. It returns src itself when nothing is removed, else a new slice.
func removeUIDs(src, drop []imap.UID) []imap.UID {
	n := len(intersectUIDs(src, drop))
	if n == 0 {
		return src
	}
	return appendWithout(make([]imap.UID, 0, len(src)-n), src, drop)
}

// diffUIDs compares the client's sorted list old with the sorted snapshot
// snap. It returns the 0-based indexes in old of the UIDs missing from snap,
// ascending, and the UIDs of snap missing from old, ascending.
func diffUIDs(old, snap []imap.UID) (vanished []int, added []imap.UID) {
	i, j := 0, 0
	for i < len(old) || j < len(snap) {
		switch {
		case j == len(snap) || (i < len(old) && old[i] < snap[j]):
			vanished = append(vanished, i)
			i++
		case i == len(old) || snap[j] < old[i]:
			added = append(added, snap[j])
			j++
		default:
			i++
			j++
		}
	}
	return vanished, added
}
