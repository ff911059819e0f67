package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Rename renames a folder and every folder below it (".A" to ".B", ".A.x"
// to ".B.x"), as Dovecot does. RENAME INBOX moves INBOX's messages into a
// new folder (RFC 3501 section 6.3.5). Subscriptions are left as they are,
// as Dovecot 2.3 leaves them (RFC 3501 is silent): clients such as
// Thunderbird move their own.
//
// Like Dovecot, each child is renamed on its own: a child whose new name
// is taken stays where it is, with its messages, and the command still
// succeeds. A mailbox without folder of its own but with children (a
// \Noselect parent) is renamed by renaming its children.
func (s *Session) Rename(oldName, newName string, options *imap.RenameOptions) error {
	oldName, err := s.acct.names.canonical(oldName)
	if err != nil {
		return err
	}
	newName, err = s.acct.names.canonical(strings.TrimSuffix(newName, string(Delim)))
	if err != nil {
		return err
	}
	newPath, err := s.acct.names.path(newName)
	if err != nil {
		return err
	}
	if newName == inboxName || newName == oldName {
		return errMailboxExists
	}
	if oldName == inboxName {
		return s.renameInbox(newName, newPath)
	}
	if strings.HasPrefix(newName, oldName+string(Delim)) {
		return errRenameIntoSelf
	}
	oldPath, err := s.folderPath(oldName)
	parentOnly := errors.Is(err, errNoSuchMailbox)
	if err != nil && !parentOnly {
		return err
	}
	dirs, err := s.folders()
	if err != nil {
		return err
	}
	children, err := s.childMoves(dirs, oldName, newName)
	if err != nil {
		return err
	}
	s.orderMoves(children)
	if parentOnly {
		if len(children) == 0 {
			return errNoSuchMailbox
		}
	} else if err := renameOwnFolder(oldPath, newPath, dirs[newName] != ""); err != nil {
		return err
	} else {
		s.acct.moveControl(oldPath, newPath)
	}
	if !parentOnly {
		moved(dirs, oldName, newName, newPath)
		s.acct.retire(oldPath, false)
	}
	// Children move in Dovecot's order (orderMoves), each judged by the
	// folders as they are then: in RENAME B.z B, B.z.z takes the place
	// B.z left, and B.z.z.z then the place B.z.z left.
	stayed := map[string]bool{}
	for _, c := range children {
		if err := s.moveChild(dirs, c); err != nil {
			s.acct.log.Warn("child folder not renamed", "mailbox", c.name, "to", c.newName, "err", err)
			stayed[c.name] = true
			continue
		}
		s.acct.moveControl(c.from, c.to)
		moved(dirs, c.name, c.newName, c.to)
		// Only what moved retires: a child that stayed keeps its state
		// and its sessions, as in Dovecot.
		s.acct.retire(c.from, false)
	}
	s.moveSpecialUse(oldName, newName, stayed)
	s.acct.log.Info("mailbox renamed", "user", s.user, "mailbox", oldName, "to", newName)
	return nil
}

// childMove is the planned rename of one child folder.
type childMove struct {
	name, newName string // mailbox names
	from, to      string // directories
}

// childMoves plans the renames of the folders below oldName. A bad new name
// (one Maildir++ cannot spell) fails the whole command before anything
// moves.
func (s *Session) childMoves(dirs map[string]string, oldName, newName string) ([]childMove, error) {
	var moves []childMove
	for n, from := range dirs {
		rest, ok := strings.CutPrefix(n, oldName+string(Delim))
		if !ok {
			continue
		}
		to := newName + string(Delim) + rest
		toPath, err := s.acct.names.path(to)
		if err != nil {
			return nil, err
		}
		moves = append(moves, childMove{name: n, newName: to, from: from, to: toPath})
	}
	slices.SortFunc(moves, func(a, b childMove) int { return strings.Compare(a.name, b.name) })
	return moves, nil
}

// renameOwnFolder renames the folder of the mailbox itself; a taken new
// name (also under another spelling on disk, taken) gives errMailboxExists.
func renameOwnFolder(oldPath, newPath string, taken bool) error {
	if _, err := os.Lstat(newPath); err == nil || taken {
		return errMailboxExists
	}
	if err := os.Rename(oldPath, newPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errNoSuchMailbox
		}
		if isDirNotEmpty(err) {
			return errMailboxExists
		}
		return mapFSError(fmt.Errorf("rename folder: %w", err))
	}
	return nil
}

// moveChild renames one child folder unless its new name is taken (on
// disk under any spelling): then it stays, never merged or overwritten.
func (s *Session) moveChild(dirs map[string]string, c childMove) error {
	if _, err := os.Lstat(c.to); err == nil || dirs[c.newName] != "" {
		return errMailboxExists
	}
	if err := os.Rename(c.from, c.to); err != nil {
		if isDirNotEmpty(err) {
			return errMailboxExists
		}
		return fmt.Errorf("rename child folder: %w", err)
	}
	return nil
}

// moved records in dirs (mailbox name to directory) that the folder of
// name is now newName's, at dir.
func moved(dirs map[string]string, name, newName, dir string) {
	delete(dirs, name)
	dirs[newName] = dir
}

// orderMoves puts the child moves in the order Dovecot 2.3 renames them,
// which decides the outcome when new names collide with old ones (RENAME
// into an ancestor): a parent before its children, and siblings in the
// order the Maildir directory lists them first (as Dovecot's folder tree
// is built from readdir). Without a listing, name order (also parents
// first) stands.
func (s *Session) orderMoves(moves []childMove) {
	d, err := os.Open(s.acct.root)
	if err != nil {
		return
	}
	ents, err := d.ReadDir(-1) // unsorted: the file system's order
	d.Close()
	if err != nil {
		return
	}
	t := newNameTree()
	for _, e := range ents {
		if name, ok := s.acct.names.mailboxName(e.Name()); ok && e.IsDir() {
			t.add(name)
		}
	}
	rank := t.preorder()
	slices.SortStableFunc(moves, func(a, b childMove) int {
		ra, oka := rank[a.name]
		rb, okb := rank[b.name]
		if !oka || !okb {
			return strings.Compare(a.name, b.name)
		}
		return ra - rb
	})
}

// nameTree is a tree of mailbox names whose children keep the order they
// were first seen in.
type nameTree struct {
	kids  map[string][]string // name ("" for the root) to its children
	known map[string]bool
}

func newNameTree() *nameTree {
	return &nameTree{kids: make(map[string][]string), known: make(map[string]bool)}
}

// add inserts name and, before it, every ancestor not seen yet.
func (t *nameTree) add(name string) {
	if t.known[name] {
		return
	}
	parent := ""
	if i := strings.LastIndexByte(name, Delim); i >= 0 {
		parent = name[:i]
		t.add(parent)
	}
	t.known[name] = true
	t.kids[parent] = append(t.kids[parent], name)
}

// preorder numbers the names: each before its children.
func (t *nameTree) preorder() map[string]int {
	rank := make(map[string]int, len(t.known))
	var walk func(string)
	walk = func(n string) {
		for _, k := range t.kids[n] {
			rank[k] = len(rank)
			walk(k)
		}
	}
	walk("")
	return rank
}
