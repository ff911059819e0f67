package maildirbackend

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// List writes the mailboxes matching ref and patterns (LIST, LIST-EXTENDED,
// LIST-STATUS, SPECIAL-USE and LSUB, which go-imap hands over as a LIST with
// the SUBSCRIBED selection). The mailboxes are INBOX and every Maildir++
// folder directory of the root, INBOX first, then by name.
func (s *Session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	return s.list(w, isLSub(w), ref, patterns, options)
}

func (s *Session) list(w listWriter, lsub bool, ref string, patterns []string, options *imap.ListOptions) error {
	if options == nil {
		options = &imap.ListOptions{}
	}
	if len(patterns) == 0 {
		// RFC 3501 section 6.3.8: LIST "" "" returns the hierarchy
		// delimiter and the root name of the reference.
		return w.WriteList(&imap.ListData{
			Attrs:   []imap.MailboxAttr{imap.MailboxAttrNoSelect},
			Delim:   Delim,
			Mailbox: listRoot(ref),
		})
	}
	mode := listMode{opts: options, lsub: lsub, patterns: patterns, ref: ref}
	// RFC 5258 section 3: options or several patterns make a LIST
	// extended.
	mode.extended = !mode.lsub && (*options != imap.ListOptions{} || len(patterns) > 1)
	tree, err := s.loadTree(options.SelectSubscribed || options.ReturnSubscribed)
	if err != nil {
		return err
	}
	for _, data := range tree.list(&mode) {
		if options.ReturnStatus != nil && data.Status == nil && tree.existing[data.Mailbox] {
			st, err := s.Status(data.Mailbox, options.ReturnStatus)
			if err != nil {
				s.acct.log.Debug("LIST-STATUS skipped a mailbox", "mailbox", data.Mailbox, "err", err)
			} else {
				data.Status = st
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// listRoot returns the root name of a reference for LIST "" "": the part up
// to and including its first hierarchy delimiter, or "".
func listRoot(ref string) string {
	if i := strings.IndexByte(ref, Delim); i >= 0 {
		return ref[:i+1]
	}
	return ""
}

// isLSub reports whether w writes LSUB responses. go-imap hands LSUB to
// List as a LIST (SUBSCRIBED) and only its writer knows the difference, in an
// unexported field; Dovecot answers LSUB with "()" and LIST (SUBSCRIBED) with
// \Subscribed, and so do we.
func isLSub(w *imapserver.ListWriter) bool {
	if w == nil {
		return false
	}
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

// listMode is what one LIST command asks for.
type listMode struct {
	opts     *imap.ListOptions // never nil
	lsub     bool
	extended bool // any LIST-EXTENDED selection or return option
	ref      string
	patterns []string
	matchers []*listMatcher // compiled patterns; built by match
}

// match reports whether name matches one of the patterns joined to the
// reference (see [listMatcher]).
func (m *listMode) match(name string) bool {
	if m.matchers == nil {
		for _, p := range m.patterns {
			m.matchers = append(m.matchers, newListMatcher(m.ref, p))
		}
	}
	for _, lm := range m.matchers {
		if lm.match(name) {
			return true
		}
	}
	return false
}

// mailboxTree is a snapshot of the mailboxes of a Maildir root.
type mailboxTree struct {
	existing   map[string]bool
	subscribed map[string]bool               // nil unless loaded
	special    map[string][]imap.MailboxAttr // SPECIAL-USE attributes by mailbox
}

// loadTree reads the folder names of the root and, with subs set, the
// subscriptions.
func (s *Session) loadTree(subs bool) (*mailboxTree, error) {
	dirs, err := s.folders()
	if err != nil {
		return nil, err
	}
	t := &mailboxTree{existing: make(map[string]bool, len(dirs)+1)}
	t.existing[inboxName] = true
	for n := range dirs {
		t.existing[n] = true
	}
	if subs {
		list, err := s.readSubscriptions()
		if err != nil {
			return nil, err
		}
		t.subscribed = make(map[string]bool, len(list))
		for _, n := range list {
			t.subscribed[n] = true
		}
	}
	t.special = s.specialUses()
	return t, nil
}

// folders returns the folder directories of the root by mailbox name:
// every directory entry that is a Maildir++ folder, INBOX excluded. Of two
// spellings of one name (modified UTF-7 and UTF-8) the first read wins.
func (s *Session) folders() (map[string]string, error) {
	return s.acct.names.folderDirs()
}

// folderDirs is [Session.folders] for the root of n.
func (n *namer) folderDirs() (map[string]string, error) {
	ents, err := os.ReadDir(n.root)
	if err != nil {
		return nil, mapFSError(fmt.Errorf("list maildir root: %w", err))
	}
	dirs := make(map[string]string, len(ents))
	for _, e := range ents {
		name, ok := n.mailboxName(e.Name())
		if !ok || dirs[name] != "" {
			continue
		}
		// Maildir++: a dot file that is not a directory is ignored, and a
		// symbolic link is never a folder (it could lead into another
		// user's mail).
		if !e.IsDir() {
			continue
		}
		dirs[name] = filepath.Join(n.root, e.Name())
	}
	return dirs, nil
}

// list computes the LIST responses of mode, in order.
func (t *mailboxTree) list(m *listMode) []*imap.ListData {
	// Every name that may be listed: mailboxes, subscriptions, and the
	// ancestors of both (non-existent parents).
	all := make(map[string]bool, len(t.existing))
	hasChild := make(map[string]bool)    // has an existing descendant
	hasSubChild := make(map[string]bool) // has a selected subscribed descendant
	subSelected := func(name string) bool {
		return t.subscribed[name] && (!m.opts.SelectSpecialUse || len(t.special[name]) > 0)
	}
	for name := range t.existing {
		all[name] = true
		for p := parent(name); p != ""; p = parent(p) {
			hasChild[p] = true
			all[p] = true
		}
	}
	for name := range t.subscribed {
		all[name] = true
		if !subSelected(name) {
			continue
		}
		for p := parent(name); p != ""; p = parent(p) {
			if !m.lsub || !m.match(name) {
				hasSubChild[p] = true
			}
			all[p] = true
		}
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == inboxName) != (names[j] == inboxName) {
			return names[i] == inboxName
		}
		return names[i] < names[j]
	})

	var out []*imap.ListData
	for _, name := range names {
		if !m.match(name) {
			continue
		}
		var d *imap.ListData
		switch {
		case m.lsub:
			d = t.lsubData(name, hasSubChild[name])
		case m.opts.SelectSubscribed:
			d = t.subscribedData(m, name, subSelected(name), hasChild[name], hasSubChild[name])
		default:
			d = t.listData(m, name, hasChild[name])
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// lsubData is the LSUB response for name: "()" when subscribed, as Dovecot
// answers, or \Noselect for a parent whose subscribed child does not match
// (RFC 3501 section 6.3.9).
func (t *mailboxTree) lsubData(name string, subChild bool) *imap.ListData {
	switch {
	case t.subscribed[name]:
		return &imap.ListData{Attrs: []imap.MailboxAttr{}, Delim: Delim, Mailbox: name}
	case subChild:
		return &imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: Delim, Mailbox: name}
	}
	return nil
}

// subscribedData is the response for LIST (SUBSCRIBED ...): subscribed
// names, existing or not, and with RECURSIVEMATCH the parents of subscribed
// names with CHILDINFO (RFC 5258 section 3.5).
func (t *mailboxTree) subscribedData(m *listMode, name string, selected, child, subChild bool) *imap.ListData {
	recursive := m.opts.SelectRecursiveMatch && subChild
	if !selected && !recursive {
		return nil
	}
	d := &imap.ListData{Delim: Delim, Mailbox: name, Attrs: []imap.MailboxAttr{}}
	if t.subscribed[name] {
		d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
	}
	if !t.existing[name] {
		d.Attrs = append(d.Attrs, imap.MailboxAttrNonExistent)
	}
	if m.opts.ReturnChildren {
		d.Attrs = append(d.Attrs, childAttr(child))
	}
	if t.existing[name] {
		d.Attrs = append(d.Attrs, t.special[name]...)
	}
	if recursive {
		d.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
	}
	return d
}

// listData is the response of a LIST without the SUBSCRIBED selection.
// CHILDREN attributes are always returned, as Dovecot does, and so are
// SPECIAL-USE ones (RFC 6154 section 2: servers SHOULD; iOS Mail relies on
// them).
func (t *mailboxTree) listData(m *listMode, name string, child bool) *imap.ListData {
	exists := t.existing[name]
	if !exists && !child {
		return nil // only subscribed
	}
	if m.opts.SelectSpecialUse && (!exists || len(t.special[name]) == 0) {
		return nil
	}
	d := &imap.ListData{Delim: Delim, Mailbox: name, Attrs: []imap.MailboxAttr{}}
	if m.opts.ReturnSubscribed && t.subscribed[name] {
		d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
	}
	if !exists {
		// A parent that only exists through its children. RFC 5258
		// section 3: \NonExistent implies \Noselect, which is what a
		// plain LIST client understands.
		if m.extended {
			d.Attrs = append(d.Attrs, imap.MailboxAttrNonExistent)
		} else {
			d.Attrs = append(d.Attrs, imap.MailboxAttrNoSelect)
		}
	}
	d.Attrs = append(d.Attrs, childAttr(child))
	if exists {
		d.Attrs = append(d.Attrs, t.special[name]...)
	}
	return d
}

func childAttr(child bool) imap.MailboxAttr {
	if child {
		return imap.MailboxAttrHasChildren
	}
	return imap.MailboxAttrHasNoChildren
}

// readSubscriptions returns the subscribed mailbox names, with the namespace
// prefix. The file holds them without it, as Dovecot stores them.
func (s *Session) readSubscriptions() ([]string, error) {
	rels, err := dovecot.ReadSubscriptions(s.acct.ctlRoot())
	if err != nil {
		return nil, mapFSError(fmt.Errorf("read subscriptions: %w", err))
	}
	names := make([]string, 0, len(rels))
	for _, rel := range rels {
		names = append(names, s.fullName(rel))
	}
	return names, nil
}

// fullName adds the namespace prefix to a name stored without it.
func (s *Session) fullName(rel string) string {
	if rel == inboxName {
		return inboxName
	}
	return s.acct.names.prefix + rel
}

// relName strips the namespace prefix from a canonical mailbox name.
func (s *Session) relName(name string) string {
	if name == inboxName {
		return inboxName
	}
	return strings.TrimPrefix(name, s.acct.names.prefix)
}

// specialUses returns the SPECIAL-USE attributes of every mailbox: the
// configured ones (Options.SpecialUse) and those clients set with
// CREATE-SPECIAL-USE.
func (s *Session) specialUses() map[string][]imap.MailboxAttr {
	m := make(map[string][]imap.MailboxAttr, len(s.b.opts.SpecialUse))
	for name, attr := range s.b.opts.SpecialUse {
		m[name] = append(m[name], attr)
	}
	entries, err := readSpecialUseFile(s.acct.root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.acct.log.Warn("ignoring unreadable special-use file", "err", err)
	}
	for _, e := range entries {
		name := s.fullName(e.rel)
		if !containsAttr(m[name], e.attr) {
			m[name] = append(m[name], e.attr)
		}
	}
	return m
}

func containsAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// specialUse is one line of the special-use file.
type specialUse struct {
	attr imap.MailboxAttr
	rel  string // mailbox name without the namespace prefix
}

// readSpecialUseFile reads root/maildir-imapd-specialuse, skipping lines it
// does not understand.
func readSpecialUseFile(root string) ([]specialUse, error) {
	b, err := safefile.ReadFile(filepath.Join(root, specialUseName), 1<<20)
	if err != nil {
		return nil, err
	}
	var out []specialUse
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		attr, rel, ok := strings.Cut(sc.Text(), " ")
		known, isKnown := knownSpecialUse(imap.MailboxAttr(attr))
		if !ok || !isKnown || rel == "" {
			continue
		}
		out = append(out, specialUse{attr: known, rel: rel})
	}
	return out, sc.Err()
}

// editSpecialUse rewrites the special-use file with edit's result, under
// account.subMu, atomically (temporary file and rename).
func (s *Session) editSpecialUse(edit func([]specialUse) []specialUse) error {
	s.acct.subMu.Lock()
	defer s.acct.subMu.Unlock()
	entries, err := readSpecialUseFile(s.acct.root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.acct.log.Warn("rewriting unreadable special-use file", "err", err)
	}
	entries = edit(entries)
	var b strings.Builder
	for _, e := range entries {
		if strings.ContainsAny(e.rel, "\r\n") {
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", e.attr, e.rel)
	}
	if err := writeFileAtomic(filepath.Join(s.acct.root, specialUseName), []byte(b.String())); err != nil {
		return mapFSError(fmt.Errorf("write special-use file: %w", err))
	}
	return nil
}

// moveSpecialUse renames the stored special-use attributes of a renamed
// mailbox and of its children, or with newName "" drops those of a deleted
// mailbox (its children stay: Maildir++ folders are separate directories).
// The children in stayed kept their folder's name and keep their
// attributes. Failures are logged: the folder operation itself succeeded.
func (s *Session) moveSpecialUse(oldName, newName string, stayed map[string]bool) {
	oldRel := s.relName(oldName)
	stayedRel := make(map[string]bool, len(stayed))
	for n := range stayed {
		stayedRel[s.relName(n)] = true
	}
	affected := func(rel string) bool {
		return rel == oldRel || (newName != "" && strings.HasPrefix(rel, oldRel+string(Delim)) && !stayedRel[rel])
	}
	entries, err := readSpecialUseFile(s.acct.root)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	touched := false
	for _, e := range entries {
		touched = touched || affected(e.rel)
	}
	if !touched {
		return
	}
	err = s.editSpecialUse(func(es []specialUse) []specialUse {
		kept := es[:0]
		for _, e := range es {
			if affected(e.rel) {
				if newName == "" {
					continue
				}
				e.rel = s.relName(newName) + e.rel[len(oldRel):]
			}
			kept = append(kept, e)
		}
		return kept
	})
	if err != nil {
		s.acct.log.Warn("updating special-use file", "err", err)
	}
}
