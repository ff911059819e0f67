package maildirbackend

import (
	"github.com/emersion/go-imap/v2"
)

// Status answers STATUS from the folder's state; sizes missing from file
// names and dovecot-uidlist are computed once and cached while the folder
// stays open.
func (s *Session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, err := s.acct.acquire(name)
	if err != nil {
		return nil, err
	}
	defer s.acct.release(f)
	f.mu.Lock()
	defer f.mu.Unlock()
	data := &imap.StatusData{Mailbox: f.mailbox}
	if options.NumMessages {
		n := uint32(len(f.msgs))
		data.NumMessages = &n
	}
	if options.UIDNext {
		data.UIDNext = f.uidNext
	}
	if options.UIDValidity {
		data.UIDValidity = f.uidValidity
	}
	if options.NumUnseen || options.NumDeleted || options.DeletedStorage {
		var unseen, deleted uint32
		var deletedBytes int64
		for _, m := range f.msgs {
			if m.flags.std&flagSeen == 0 {
				unseen++
			}
			if m.flags.std&flagDeleted != 0 {
				deleted++
				if options.DeletedStorage {
					deletedBytes += f.quotaSize(m)
				}
			}
		}
		if options.DeletedStorage {
			// RFC 9208 section 4.2.2: what EXPUNGE would free, in the
			// unit of the STORAGE resource (KiB, rounded up).
			n := kib(deletedBytes)
			data.DeletedStorage = &n
		}
		if options.NumUnseen {
			data.NumUnseen = &unseen
		}
		if options.NumDeleted {
			data.NumDeleted = &deleted
		}
	}
	if options.NumRecent {
		n := f.unclaimedRecentLocked()
		data.NumRecent = &n
	}
	if options.Size {
		var size int64
		for _, m := range f.msgs {
			if m.vsize < 0 {
				if err := f.computeSizes(m); err != nil {
					continue // vanished: the next sync expunges it
				}
			}
			size += m.vsize
		}
		data.Size = &size
	}
	if options.AppendLimit {
		limit := s.b.opts.AppendLimit
		data.AppendLimit = &limit
	}
	return data, nil
}
