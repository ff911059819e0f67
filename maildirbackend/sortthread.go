package maildirbackend

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

// SORT (RFC 5256, RFC 5957) and THREAD (RFC 5256) for the engine: SEARCH
// picks the messages, their cached ENVELOPE gives the keys, and imapsort
// orders them.

var errUnknownSortKey = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown sort criterion"}

var sortKeys = map[string]imapsort.Key{
	"ARRIVAL": imapsort.Arrival, "CC": imapsort.Cc, "DATE": imapsort.Date, "FROM": imapsort.From,
	"SIZE": imapsort.Size, "SUBJECT": imapsort.Subject, "TO": imapsort.To,
	"DISPLAYFROM": imapsort.DisplayFrom, "DISPLAYTO": imapsort.DisplayTo,
}

// Sort implements imapd.SessionSort.
func (s *EngineSession) Sort(kind imapd.NumKind, criteria []imapd.SortCriterion, search *imap.SearchCriteria) ([]uint32, error) {
	crit := make([]imapsort.Criterion, len(criteria))
	for i, c := range criteria {
		k, ok := sortKeys[strings.ToUpper(c.Key)]
		if !ok {
			return nil, errUnknownSortKey
		}
		crit[i] = imapsort.Criterion{Key: k, Reverse: c.Reverse}
	}
	msgs, err := s.sortMessages(kind == imapd.NumKindUID, search, false)
	if err != nil {
		return nil, err
	}
	return imapsort.Sort(msgs, crit), nil
}

// ThreadAlgorithms implements imapd.SessionThread.
func (s *EngineSession) ThreadAlgorithms() []imap.ThreadAlgorithm {
	return []imap.ThreadAlgorithm{imap.ThreadOrderedSubject, imap.ThreadReferences}
}

// Thread implements imapd.SessionThread.
func (s *EngineSession) Thread(kind imapd.NumKind, alg imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]*imapd.Thread, error) {
	var threads []*imapsort.Thread
	switch alg {
	case imap.ThreadOrderedSubject:
		msgs, err := s.sortMessages(kind == imapd.NumKindUID, search, false)
		if err != nil {
			return nil, err
		}
		threads = imapsort.OrderedSubject(msgs)
	case imap.ThreadReferences:
		msgs, err := s.sortMessages(kind == imapd.NumKindUID, search, true)
		if err != nil {
			return nil, err
		}
		threads = imapsort.References(msgs)
	default:
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown thread algorithm"}
	}
	return engineThreads(threads), nil
}

func engineThreads(ts []*imapsort.Thread) []*imapd.Thread {
	out := make([]*imapd.Thread, len(ts))
	for i, t := range ts {
		out[i] = &imapd.Thread{Num: t.ID, Children: engineThreads(t.Children)}
	}
	return out
}

// sortMessages returns the messages that match criteria, with what SORT
// and THREAD compare; references also reads each one's References field.
// IDs are UIDs when byUID, else sequence numbers.
func (s *Session) sortMessages(byUID bool, criteria *imap.SearchCriteria, references bool) ([]imapsort.Message, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	data, err := s.search(true, criteria, &imap.SearchOptions{ReturnAll: true})
	if err != nil {
		return nil, err
	}
	var uids []imap.UID
	if set, ok := data.All.(imap.UIDSet); ok {
		uids, _ = set.Nums()
	}
	opts := &imap.FetchOptions{Envelope: true, RFC822Size: true, InternalDate: true}
	msgs := make([]imapsort.Message, 0, len(uids))
	const chunk = 256
	for len(uids) > 0 {
		n := min(chunk, len(uids))
		for _, sn := range sel.f.snapMany(uids[:n], sel) {
			id := uint32(sn.uid)
			if !byUID {
				if id = sel.view.SeqNum(sn.uid); id == 0 {
					continue
				}
			}
			if err := sel.f.fill(&sn, opts); errors.Is(err, fs.ErrNotExist) {
				continue // expunged meanwhile
			} else if err != nil {
				return nil, err
			}
			m := sortMessage(id, &sn)
			if references {
				if m.References, err = sel.f.headerField(&sn, "References"); err != nil {
					return nil, err
				}
			}
			msgs = append(msgs, m)
		}
		uids = uids[n:]
	}
	return msgs, nil
}

// sortMessage fills the keys of one message from its ENVELOPE.
func sortMessage(id uint32, sn *snapshot) imapsort.Message {
	m := imapsort.Message{ID: id, Arrival: time.Unix(sn.mtime, 0).UTC(), Size: sn.vsize}
	if sn.content == nil {
		return m
	}
	env := sn.content.sum.Envelope
	m.Date = env.Date
	// The ENVELOPE keeps encoded words as Dovecot sends them; SORT and
	// THREAD compare the decoded text, as Dovecot does.
	m.Subject = imapmsg.DecodeHeaderText(env.Subject)
	first := func(l []imap.Address) imapsort.Address {
		if len(l) == 0 {
			return imapsort.Address{}
		}
		return imapsort.Address{Name: imapmsg.DecodeHeaderText(l[0].Name), Mailbox: l[0].Mailbox, Host: l[0].Host}
	}
	m.From, m.To, m.Cc = first(env.From), first(env.To), first(env.Cc)
	if env.MessageID != "" {
		m.MessageID = "<" + env.MessageID + ">"
	}
	if len(env.InReplyTo) > 0 {
		m.InReplyTo = "<" + strings.Join(env.InReplyTo, "> <") + ">"
	}
	return m
}

// headerField returns the unfolded value of the first header field name of
// a message ("" when it has none).
func (f *folder) headerField(sn *snapshot, name string) (string, error) {
	if fields := f.cachedFieldsOf(sn, name); fields != nil {
		return imapmsg.HeaderField(bytes.NewReader(imapmsg.HeaderFieldsMessage(fields)), name)
	}
	file, err := f.openMessage(sn)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	defer file.Close()
	return imapmsg.HeaderField(file, name)
}

var (
	_ imapd.SessionSort   = (*EngineSession)(nil)
	_ imapd.SessionThread = (*EngineSession)(nil)
)
