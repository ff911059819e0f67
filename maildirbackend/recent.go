package maildirbackend

import (
	"github.com/emersion/go-imap/v2"
)

// \Recent (RFC 3501 2.3.2): a message is recent in exactly one session,
// the first read-write session told about it. RFC 9051 dropped the flag;
// IMAP4rev1 clients and test suites still count it.
//
// The folder keeps recentFloor: messages with a UID above it are recent
// and not yet claimed. A read-write SELECT claims them all; a message that
// arrives while read-write sessions have the folder selected is claimed by
// the earliest of them. The state lives in this process only: on load,
// messages still in new/ above every message in cur/ count as recent,
// which is what an MTA's deliveries since the last sync look like.

// claimRecentLocked gives the unclaimed recent messages to a read-write
// selection and registers it for future arrivals.
func (f *folder) claimRecentLocked(sel *selection) {
	sel.recent = f.unclaimedRecentSetLocked()
	f.recentFloor = f.maxUID
	f.rw = append(f.rw, sel)
}

// unclaimedRecentSetLocked is what a read-only (EXAMINE) session shows as
// \Recent: the unclaimed messages, which it does not claim.
func (f *folder) unclaimedRecentSetLocked() map[imap.UID]bool {
	set := make(map[imap.UID]bool)
	for i := len(f.msgs) - 1; i >= 0 && f.msgs[i].uid > f.recentFloor; i-- {
		set[f.msgs[i].uid] = true
	}
	return set
}

// dropRecentLocked forgets a selection that ends.
func (f *folder) dropRecentLocked(sel *selection) {
	for i, s := range f.rw {
		if s == sel {
			f.rw = append(f.rw[:i], f.rw[i+1:]...)
			return
		}
	}
}

// arrivedLocked hands new UIDs to the earliest read-write selection, or
// leaves them unclaimed for the next read-write SELECT.
func (f *folder) arrivedLocked(uids []imap.UID) {
	if len(f.rw) == 0 || len(uids) == 0 {
		return
	}
	for _, uid := range uids {
		f.rw[0].recent[uid] = true
	}
	f.recentFloor = f.maxUID
}

// unclaimedRecentLocked counts the recent messages no session claimed
// (STATUS RECENT).
func (f *folder) unclaimedRecentLocked() uint32 {
	return uint32(len(f.unclaimedRecentSetLocked()))
}

// initRecentLocked sets the floor after a load: messages in new/ above
// every message in cur/ are recent.
func (f *folder) initRecentLocked() {
	f.recentFloor = 0
	for i := len(f.msgs) - 1; i >= 0; i-- {
		if !f.msgs[i].inNew {
			f.recentFloor = f.msgs[i].uid
			break
		}
	}
}

// withRecent adds \Recent to flags; it copies, since flags may be shared.
func withRecent(flags []imap.Flag) []imap.Flag {
	out := make([]imap.Flag, 0, len(flags)+1)
	out = append(out, flags...)
	return append(out, imap.Flag(`\Recent`))
}
