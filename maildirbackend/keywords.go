package maildirbackend

import (
	"path/filepath"
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// readKeywordsLocked (re)reads dovecot-keywords when it changed and reports
// whether the list of names changed.
func (f *folder) readKeywordsLocked() bool {
	stamp := stampOf(filepath.Join(f.ctl, keywordsName))
	if f.keywords != nil && stamp == f.kwStamp {
		return false
	}
	kw, err := dovecot.ReadKeywords(f.ctl)
	if err != nil {
		f.log.Warn("unreadable dovecot-keywords", "err", err)
		if f.keywords != nil {
			return false
		}
		kw = &dovecot.Keywords{}
	}
	changed := f.keywords == nil || !slices.Equal(f.keywords.Names(), kw.Names())
	f.keywords, f.kwStamp = kw, stamp
	return changed
}

// lettersUnnamedLocked reports whether a changed message uses a keyword
// letter that had no name (Dovecot then invents "unknown-<n>", and the
// mailbox FLAGS must show it).
func (f *folder) lettersUnnamedLocked(change idle.Change) bool {
	before := len(f.keywords.Names())
	for uid := range change.Flags {
		if m := f.byUIDLocked(uid); m != nil {
			f.imapFlagsLocked(m)
		}
	}
	for _, uid := range change.Added {
		if m := f.byUIDLocked(uid); m != nil {
			f.imapFlagsLocked(m)
		}
	}
	return len(f.keywords.Names()) != before
}

// imapFlagsLocked returns a message's IMAP flags, keywords by name.
func (f *folder) imapFlagsLocked(m *message) []imap.Flag {
	if m.flags.kw == 0 {
		return stdFlagLists[m.flags.std&31]
	}
	flags := make([]imap.Flag, 0, 4)
	for _, s := range stdLetters {
		if m.flags.std&s.bit != 0 {
			flags = append(flags, s.flag)
		}
	}
	for i := 0; i < 26; i++ {
		if m.flags.kw&(1<<i) != 0 {
			flags = append(flags, imap.Flag(f.keywords.NameOrInvent(byte('a'+i))))
		}
	}
	return flags
}

// stdFlagLists holds the flag list of every combination of system flags,
// shared by all messages without keywords: FETCH FLAGS then allocates
// nothing. Each has len == cap, so an append by a caller copies.
var stdFlagLists = func() (lists [32][]imap.Flag) {
	for bits := range lists {
		var l []imap.Flag
		for _, s := range stdLetters {
			if uint8(bits)&s.bit != 0 {
				l = append(l, s.flag)
			}
		}
		lists[bits] = append(make([]imap.Flag, 0, len(l)), l...)
	}
	return lists
}()

// mailboxFlagsLocked is the FLAGS list: the system flags and every keyword
// of the folder.
func (f *folder) mailboxFlagsLocked() []imap.Flag {
	flags := []imap.Flag{imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagSeen, imap.FlagDraft}
	for _, name := range f.keywords.Names() {
		flags = append(flags, imap.Flag(name))
	}
	return flags
}
