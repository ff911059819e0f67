package maildirbackend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// Fetch writes the requested data items. FLAGS, UID, INTERNALDATE and
// RFC822.SIZE come from memory (a stat and a size count the first time);
// ENVELOPE, BODYSTRUCTURE and the header fields clients list come from the
// folder's memory or cache file, or are parsed once (fill.go); body
// sections read the file.
func (s *Session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	return s.fetch(goFetchWriter{w}, numSet, options)
}

func (s *Session) fetch(w fetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	uids, err := sel.resolveChecked(numSet)
	if err != nil {
		return err
	}
	markSeen := false
	if !sel.readOnly {
		for _, bs := range options.BodySection {
			markSeen = markSeen || !bs.Peek
		}
		for _, bs := range options.BinarySection {
			markSeen = markSeen || !bs.Peek
		}
	}
	if markSeen {
		if _, err := sel.f.store(sel, uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}); err != nil {
			return err
		}
		options = s.seenFetchOptions(options)
	}
	// Snapshots are taken a chunk at a time under one lock; a message
	// expunged meanwhile is found gone by the file access, or shown with
	// its last known flags (its EXPUNGE follows at the next poll).
	const chunk = 256
	for len(uids) > 0 {
		n := min(chunk, len(uids))
		sns := sel.f.snapMany(uids[:n], sel)
		sel.f.prefetch(sns, options)
		for _, sn := range sns {
			seq := sel.view.SeqNum(sn.uid)
			if seq == 0 || (options.ChangedSince != 0 && sn.modseq <= options.ChangedSince) {
				continue
			}
			if options.Flags || markSeen {
				sn.flags = sel.view.ShowFlags(sn.uid, sn.flags)
			}
			if err := sel.f.fetchOne(w, seq, sn, options, markSeen); err != nil {
				return err
			}
		}
		uids = uids[n:]
	}
	return nil
}

// snapMany copies the state of the messages with the given ascending UIDs
// that still exist, under one lock, with \Recent as sel sees it.
func (f *folder) snapMany(uids []imap.UID, sel *selection) []snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]snapshot, 0, len(uids))
	// Start at the first UID, not at the first message: FETCH 1:* walks
	// the folder a chunk at a time, and a walk from the start for every
	// chunk made it quadratic (100,000 messages: 19.5 million steps).
	j := 0
	if len(uids) > 0 {
		j = sort.Search(len(f.msgs), func(i int) bool { return f.msgs[i].uid >= uids[0] })
	}
	for _, uid := range uids {
		for j < len(f.msgs) && f.msgs[j].uid < uid {
			j++
		}
		if j < len(f.msgs) && f.msgs[j].uid == uid {
			sn := f.snapLocked(f.msgs[j])
			if sel.recent[uid] {
				sn.flags = withRecent(sn.flags)
			}
			out = append(out, sn)
		}
	}
	return out
}

// snapshot is a copy of a message's state taken under the folder lock.
type snapshot struct {
	uid    imap.UID
	key    string
	dir    string // folder directory
	inNew  bool
	info   string
	flags  []imap.Flag
	fsize  int64
	vsize  int64
	mtime  int64
	modseq uint64
	// content is the message's content as the snapshot was taken, then as
	// fill found it; may be nil.
	content *content
	looked  bool // the cache file was read for it
}

// summary returns the message's summary, nil while unknown.
func (sn *snapshot) summary() *imapmsg.Summary {
	if sn.content == nil {
		return nil
	}
	return sn.content.sum
}

// path is the message file's path, built only when a file is touched.
func (sn *snapshot) path() string {
	sub := "/cur/"
	if sn.inNew {
		sub = "/new/"
	}
	return sn.dir + sub + sn.key + sn.info
}

// snap copies a message's state, or returns false when it is gone.
func (f *folder) snap(uid imap.UID) (snapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.byUIDLocked(uid)
	if m == nil {
		return snapshot{}, false
	}
	return f.snapLocked(m), true
}

func (f *folder) snapLocked(m *message) snapshot {
	if m.content != nil {
		m.content.used = true
	}
	return snapshot{
		uid: m.uid, key: m.key, dir: f.path, inNew: m.inNew, info: m.info,
		flags: f.imapFlagsLocked(m), fsize: m.fsize, vsize: m.vsize, mtime: m.mtime, content: m.content,
		modseq: m.modseq,
	}
}

// openMessage opens a message file. When another program renamed it since
// our last sync, it syncs the folder and tries the new name; it returns
// fs.ErrNotExist when the message is gone.
func (f *folder) openMessage(sn *snapshot) (*os.File, error) {
	file, err := openMessageFile(sn.path())
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return file, err
	}
	f.mu.Lock()
	if err := f.syncLocked(); err != nil {
		f.log.Warn("sync after vanished file", "err", err)
	}
	m := f.byUIDLocked(sn.uid)
	if m == nil {
		f.mu.Unlock()
		return nil, fs.ErrNotExist
	}
	sn.inNew, sn.info = m.inNew, m.info
	sn.flags = f.imapFlagsLocked(m)
	f.mu.Unlock()
	return openMessageFile(sn.path())
}

// headerSectionsOnly reports whether a FETCH asks only for sections of the
// top-level header (BODY[HEADER], BODY[HEADER.FIELDS (...)], and .NOT),
// which the header block alone answers.
func headerSectionsOnly(options *imap.FetchOptions) bool {
	if len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 {
		return false
	}
	for _, bs := range options.BodySection {
		if len(bs.Part) > 0 || bs.Specifier != imap.PartSpecifierHeader {
			return false
		}
	}
	return true
}

// wantsSections reports whether a FETCH asks for a BODY[], BINARY[] or
// BINARY.SIZE[] item.
func wantsSections(options *imap.FetchOptions) bool {
	return len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
}

// computeSizes reads a message to learn its sizes. Called with f.mu held.
func (f *folder) computeSizes(m *message) error {
	file, err := openMessageFile(filepath.Join(f.path, m.rel()))
	if err != nil {
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	m.fsize = fi.Size()
	m.mtime = fi.ModTime().Unix()
	v, err := imapmsg.CRLFSize(file)
	if err != nil {
		return err
	}
	m.vsize = v
	return nil
}

func (f *folder) fetchOne(w fetchWriter, seq uint32, sn snapshot, options *imap.FetchOptions, withFlags bool) error {
	uid := sn.uid
	if err := f.fill(&sn, options); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var (
		src    io.ReaderAt
		parsed *imapmsg.Parsed
	)
	if ct := sn.content; ct != nil {
		parsed = ct.parsed
	}
	if ct := sn.content; wantsSections(options) && ct != nil && ct.fields != nil && cachedFieldsOnly(options) {
		// A client's header listing, from the cache: no file read.
		msg := imapmsg.HeaderFieldsMessage(ct.fields)
		src = bytes.NewReader(msg)
		parsed = imapmsg.HeaderFieldsParsed(msg)
	} else if wantsSections(options) {
		file, err := f.openMessage(&sn)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		defer file.Close()
		src = file
		if parsed == nil {
			// A header section of fields the cache does not keep: read
			// the header block only.
			if parsed, err = imapmsg.ParseHeader(file); err != nil {
				return fmt.Errorf("read message header: %w", err)
			}
		}
		for _, bs := range options.BinarySection {
			if err := parsed.CheckBinary(bs.Part); err != nil {
				return err
			}
		}
		for _, bs := range options.BinarySectionSize {
			if err := parsed.CheckBinary(bs.Part); err != nil {
				return err
			}
		}
	}

	rw := w.CreateMessage(seq)
	if options.UID {
		rw.WriteUID(uid) // UID FETCH, or asked for; Dovecot sends no UID otherwise
	}
	if options.Flags || withFlags {
		rw.WriteFlags(sn.flags)
	}
	if options.ModSeq {
		writeModSeq(rw, sn.modseq)
	}
	if options.InternalDate {
		rw.WriteInternalDate(time.Unix(sn.mtime, 0).UTC())
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(sn.vsize)
	}
	if options.Envelope {
		rw.WriteEnvelope(sn.content.sum.Envelope)
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(sn.content.sum.BodyStructure)
	}
	if err := writeSections(rw, src, parsed, options); err != nil {
		rw.Close()
		return err
	}
	return rw.Close()
}

// writeSections streams the BODY[], BINARY[] and BINARY.SIZE[] items from
// the file: what one message holds in memory is a few 64 KiB buffers,
// whatever its size, and a client that does not read blocks the writes.
func writeSections(rw fetchResponseWriter, file io.ReaderAt, parsed *imapmsg.Parsed, options *imap.FetchOptions) error {
	for _, bs := range options.BodySection {
		var lit io.WriteCloser
		err := parsed.WriteBodySection(file, bs, func(size int64) io.Writer {
			lit = rw.WriteBodySection(bs, size)
			return &nulWriter{w: lit}
		})
		if err := closeLiteral(lit, err, func() io.WriteCloser { return rw.WriteBodySection(bs, 0) }); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		var lit io.WriteCloser
		err := parsed.WriteBinarySection(file, bs, func(size int64) io.Writer {
			lit = rw.WriteBinarySection(bs, size)
			return lit
		})
		if err := closeLiteral(lit, err, func() io.WriteCloser { return rw.WriteBinarySection(bs, 0) }); err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySectionSize {
		n, err := parsed.BinarySize(file, bs.Part)
		if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		rw.WriteBinarySectionSize(bs, uint32(min(n, 1<<32-1)))
	}
	return nil
}

// closeLiteral closes a section's literal, first writing an empty one when
// an error came before it was started, so that the response stays well
// formed before the command's NO.
func closeLiteral(lit io.WriteCloser, err error, empty func() io.WriteCloser) error {
	if lit == nil {
		lit = empty()
	}
	if cerr := lit.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	return nil
}

// nulWriter writes a BODY[] section with every NUL turned into 0x80.
// RFC 3501 section 4.3: a {n} literal cannot hold NUL, and go-imap writes
// BODY[] only as {n}. Dovecot (src/lib-imap-storage/imap-msgpart.c) does
// the same; BINARY[] (a literal8) keeps the NULs.
type nulWriter struct {
	w   io.Writer
	buf []byte
}

func (n *nulWriter) Write(b []byte) (int, error) {
	if bytes.IndexByte(b, 0) < 0 {
		return n.w.Write(b)
	}
	n.buf = append(n.buf[:0], b...)
	for i, c := range n.buf {
		if c == 0 {
			n.buf[i] = 0x80
		}
	}
	if _, err := n.w.Write(n.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
