package idle

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// RFC 3501 section 7.2.6: a client learns the keywords of a mailbox from
// "* FLAGS", so a session must get a FLAGS list naming a keyword before any
// FETCH that shows it (ImapTest: "Keyword used without being in FLAGS").
// Poll writes FLAGS first; FETCH and STORE answers, which go-imap writes
// outside Poll and which cannot carry "* FLAGS", go through
// [View.ShowFlags]. Dovecot (imap/imap-client.c, client_get_keyword_names)
// writes "* FLAGS" in the middle of a FETCH instead, which go-imap's
// FetchWriter cannot.

// SetAnnouncedFlags records flags as the FLAGS list the client was given
// outside Poll: the SELECT response. A new view starts with the mailbox's
// FLAGS list ([Mailbox.Flags]). flags is copied.
func (v *View) SetAnnouncedFlags(flags []imap.Flag) {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	v.known = cloneFlags(flags)
}

// ShowFlags returns what a FETCH written outside Poll (the answer to FETCH
// or STORE) may show as the flags of message uid: flags without the
// keywords no FLAGS list has announced to this view's client yet. When it
// drops some, the next Poll writes a FLAGS list naming them and then
// "* N FETCH (FLAGS ...)" with the message's flags (flags less \Recent,
// unless a newer change is already queued). flags is not modified.
func (v *View) ShowFlags(uid imap.UID, flags []imap.Flag) []imap.Flag {
	if !hasKeyword(flags) {
		return flags
	}
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.closed {
		return flags
	}
	var shown, unknown []imap.Flag
	for _, f := range flags {
		if isKeyword(f) && !containsFlag(v.known, f) {
			unknown = append(unknown, f)
		} else {
			shown = append(shown, f)
		}
	}
	if unknown == nil {
		return flags
	}
	v.announceLocked(unknown)
	if _, queued := v.pendingFlags[uid]; !queued {
		if v.pendingFlags == nil {
			v.pendingFlags = make(map[imap.UID][]imap.Flag)
		}
		full := make([]imap.Flag, 0, len(flags))
		for _, f := range flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				full = append(full, f)
			}
		}
		v.pendingFlags[uid] = full
	}
	if shown == nil {
		shown = []imap.Flag{}
	}
	return shown
}

// announceLocked makes sure the next Poll writes a FLAGS list holding
// keywords: the pending list, or the mailbox's, plus any it lacks.
func (v *View) announceLocked(keywords []imap.Flag) {
	list := v.pendingMailboxFlags
	if list == nil {
		list = v.mbox.flags
	}
	var extended []imap.Flag
	for _, k := range keywords {
		if !containsFlag(list, k) && !containsFlag(extended, k) {
			extended = append(extended, k)
		}
	}
	if extended != nil {
		list = append(cloneFlags(list), extended...)
	}
	v.pendingMailboxFlags = list
}

// unannouncedLocked returns the keywords of fetches that the FLAGS list
// known does not name.
func unannouncedLocked(known []imap.Flag, fetches []flagUpdate) []imap.Flag {
	var out []imap.Flag
	for _, f := range fetches {
		for _, fl := range f.flags {
			if isKeyword(fl) && !containsFlag(known, fl) && !containsFlag(out, fl) {
				out = append(out, fl)
			}
		}
	}
	return out
}

func isKeyword(f imap.Flag) bool { return f != "" && f[0] != '\\' }

func hasKeyword(flags []imap.Flag) bool {
	for _, f := range flags {
		if isKeyword(f) {
			return true
		}
	}
	return false
}

// containsFlag reports whether list holds f; flags compare
// case-insensitively (RFC 3501 section 2.3.2).
func containsFlag(list []imap.Flag, f imap.Flag) bool {
	for _, l := range list {
		if strings.EqualFold(string(l), string(f)) {
			return true
		}
	}
	return false
}
