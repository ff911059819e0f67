package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// METADATA and METADATA-SERVER (RFC 5464) for the imapd front-end: entries
// on mailboxes and on the server, private and shared, kept per user in the
// files of metadata_file.go. Every entry is the user's own: there are no
// shared mailboxes, so a /shared entry of a mailbox is seen by its owner
// alone, as in Dovecot without ACLs. The server's /shared entries come
// from the configuration (MetadataOptions.Server) and are read-only.

// Default limits of METADATA, per user.
const (
	DefaultMetadataValueSize = 64 << 10 // one value
	DefaultMetadataEntries   = 1000     // entries of a user, mailboxes and server together
	DefaultMetadataBytes     = 1 << 20  // names and values of a user
)

// MetadataOptions configures METADATA. The zero value has the default
// limits and no server entries.
type MetadataOptions struct {
	// MaxValueSize bounds one value; a larger one is refused with
	// NO [METADATA MAXSIZE n] before it is read. Zero means
	// DefaultMetadataValueSize.
	MaxValueSize int64
	// MaxEntries and MaxBytes bound a user's entries and the bytes of
	// their names and values; a SETMETADATA that would go over them is
	// refused with NO [METADATA TOOMANY]. One that removes entries is
	// always accepted. Zero means DefaultMetadataEntries and
	// DefaultMetadataBytes.
	MaxEntries int
	MaxBytes   int64
	// Server holds the server's /shared entries: /shared/admin (a URI to
	// reach the administrator, RFC 5464 section 3.2.1), /shared/comment,
	// /shared/vendor/... Clients read them and cannot change them. Names
	// are case-insensitive.
	Server map[string]string
}

// withDefaults fills the zero fields of o and lower-cases the server's
// entry names.
func (o MetadataOptions) withDefaults() MetadataOptions {
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = DefaultMetadataValueSize
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMetadataEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMetadataBytes
	}
	if o.Server != nil {
		server := make(map[string]string, len(o.Server))
		for k, v := range o.Server {
			server[strings.ToLower(k)] = v
		}
		o.Server = server
	}
	return o
}

// fileLimit bounds what is read of one metadata file: generous, so that a
// file written under higher limits is still read.
func (o MetadataOptions) fileLimit() int64 {
	return 4*o.MaxBytes + int64(o.MaxEntries)*32 + 1<<20
}

var (
	errMetadataTooMany = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "METADATA TOOMANY",
		Text: "Too many metadata entries or bytes for this user"}
	errMetadataRoot = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
		Text: "/private and /shared themselves hold no value"}
)

func errServerShared(name string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
		Text: fmt.Sprintf("The %s entry of the server cannot be changed", name)}
}

// MetadataLimits implements imapd.SessionMetadata.
func (s *EngineSession) MetadataLimits() imapd.MetadataLimits {
	o := s.b.opts.Metadata
	return imapd.MetadataLimits{MaxValueSize: o.MaxValueSize, MaxCommandSize: o.MaxBytes, MaxEntries: o.MaxEntries}
}

// GetMetadata implements imapd.SessionMetadata.
func (s *EngineSession) GetMetadata(mailbox string, names []string, depth imapd.MetadataDepth) ([][]imapd.MetadataEntry, error) {
	t, err := s.metadataTarget(mailbox)
	if err != nil {
		return nil, err
	}
	d, err := t.open()
	if err != nil {
		return nil, err
	}
	m, err := d.read(t.file, s.b.opts.Metadata.fileLimit())
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if t.server {
		for k, v := range s.b.opts.Metadata.Server {
			m[k] = []byte(v)
		}
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make([][]imapd.MetadataEntry, len(names))
	for i, name := range names {
		out[i] = metadataBelow(m, keys, name, depth)
	}
	return out, nil
}

// metadataBelow returns entry name of m, if it has a value, and the
// entries below it down to depth, in name order (keys is m's sorted keys).
func metadataBelow(m metaEntries, keys []string, name string, depth imapd.MetadataDepth) []imapd.MetadataEntry {
	var out []imapd.MetadataEntry
	if v, ok := m[name]; ok {
		out = append(out, imapd.MetadataEntry{Name: name, Value: v})
	}
	if depth == imapd.MetadataDepthZero {
		return out
	}
	prefix := name + "/"
	i, _ := slices.BinarySearch(keys, prefix)
	for ; i < len(keys) && strings.HasPrefix(keys[i], prefix); i++ {
		if depth == imapd.MetadataDepthOne && strings.Contains(keys[i][len(prefix):], "/") {
			continue
		}
		out = append(out, imapd.MetadataEntry{Name: keys[i], Value: m[keys[i]]})
	}
	return out
}

// SetMetadata implements imapd.SessionMetadata: all the entries are
// written in one file replacement, under the user's metadata lock.
func (s *EngineSession) SetMetadata(mailbox string, entries []imapd.MetadataEntry) error {
	o := s.b.opts.Metadata
	t, err := s.metadataTarget(mailbox)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch {
		case e.Name == "/private" || e.Name == "/shared":
			return errMetadataRoot
		case t.server && strings.HasPrefix(e.Name, "/shared/"):
			return errServerShared(e.Name)
		case int64(len(e.Value)) > o.MaxValueSize:
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode(fmt.Sprintf("METADATA MAXSIZE %d", o.MaxValueSize)),
				Text: "Metadata value too large"}
		}
	}
	unlock, err := lockMetadata(s.acct.root)
	if err != nil {
		return mapFSError(fmt.Errorf("lock metadata: %w", err))
	}
	defer unlock()
	d, err := t.open()
	if err != nil {
		return err
	}
	defer d.Close()
	cur, err := d.read(t.file, o.fileLimit())
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	next := maps.Clone(cur)
	for _, e := range entries {
		if e.Value == nil {
			delete(next, e.Name)
		} else {
			next[e.Name] = e.Value
		}
	}
	if maps.EqualFunc(cur, next, func(a, b []byte) bool { return string(a) == string(b) }) {
		return nil
	}
	if err := s.checkMetadataUsage(cur, next); err != nil {
		return err
	}
	if err := d.write(t.file, next); err != nil {
		return mapFSError(fmt.Errorf("write metadata: %w", err))
	}
	return nil
}

// checkMetadataUsage refuses a change from cur to next (one file's entries)
// that takes the user over a limit. A change that does not add entries or
// bytes is always allowed, so that a user over limits lowered since can
// still remove entries. The caller holds the metadata lock.
func (s *EngineSession) checkMetadataUsage(cur, next metaEntries) error {
	o := s.b.opts.Metadata
	curN, curSize := cur.usage()
	nextN, nextSize := next.usage()
	if nextN <= curN && nextSize <= curSize {
		return nil
	}
	allN, allSize, err := s.metadataUsage()
	if err != nil {
		return err
	}
	n, size := allN-curN+nextN, allSize-curSize+nextSize
	if (n > o.MaxEntries && nextN > curN) || (size > o.MaxBytes && nextSize > curSize) {
		return errMetadataTooMany
	}
	return nil
}

// metadataUsage counts the entries of every metadata file of the user: the
// server's, INBOX's and each folder's. An unreadable file counts nothing
// and is logged.
func (s *EngineSession) metadataUsage() (n int, size int64, err error) {
	dirs, err := s.folders()
	if err != nil {
		return 0, 0, err
	}
	paths := []string{s.acct.root + "/" + serverMetadataName, s.acct.root + "/" + metadataName}
	for _, dir := range dirs {
		paths = append(paths, dir+"/"+metadataName)
	}
	limit := s.b.opts.Metadata.fileLimit()
	for _, p := range paths {
		data, err := safefile.ReadFile(p, limit)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var m metaEntries
		if err == nil {
			m, err = decodeMetaEntries(data)
		}
		if err != nil {
			s.acct.log.Warn("metadata file not counted", "user", s.user, "err", err)
			continue
		}
		dn, ds := m.usage()
		n, size = n+dn, size+ds
	}
	return n, size, nil
}

// metaTarget is where the entries of a mailbox, or of the server, are.
type metaTarget struct {
	dir    string
	root   bool // dir is the Maildir root, which may be a symbolic link
	file   string
	server bool
}

// metadataTarget resolves mailbox ("" for the server).
func (s *Session) metadataTarget(mailbox string) (metaTarget, error) {
	if mailbox == "" {
		return metaTarget{dir: s.acct.root, root: true, file: serverMetadataName, server: true}, nil
	}
	name, err := s.acct.names.canonical(mailbox)
	if err != nil {
		return metaTarget{}, err
	}
	if name == inboxName {
		return metaTarget{dir: s.acct.root, root: true, file: metadataName}, nil
	}
	dir, err := s.folderPath(name)
	if err != nil {
		return metaTarget{}, err
	}
	return metaTarget{dir: dir, file: metadataName}, nil
}

// open opens the target's directory; a folder gone meanwhile is a mailbox
// that does not exist.
func (t metaTarget) open() (*metaDir, error) {
	d, err := openMetaDir(t.dir, t.root)
	if err != nil {
		if missingDir(err) || errors.Is(err, fs.ErrNotExist) {
			return nil, errNoSuchMailbox
		}
		return nil, mapFSError(fmt.Errorf("open metadata directory: %w", err))
	}
	return d, nil
}
