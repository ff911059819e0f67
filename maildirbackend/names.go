package maildirbackend

import (
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/maildir-imapd/maildir-imapd/internal/mutf7"
)

// Delim is the IMAP hierarchy separator, as in Dovecot's and Courier's
// default Maildir++ layout.
const Delim = '.'

// inboxName is the name of the mailbox stored in the Maildir root.
const inboxName = "INBOX"

// maxFolderNameBytes keeps a folder directory name within NAME_MAX.
const maxFolderNameBytes = 250

// namer converts between IMAP mailbox names and Maildir++ folder directories
// of one Maildir root. Mailbox names are UTF-8 here: go-imap decodes modified
// UTF-7 on the wire.
type namer struct {
	root   string // immutable
	prefix string // namespace prefix, "" or e.g. "INBOX."; immutable
	utf8   bool   // folder names on disk in UTF-8 (Courier 5) instead of mUTF-7
	ctl    string // immutable: control root (Dovecot's CONTROL=); "" means root
}

// control returns the directory of the control files (dovecot-uidlist,
// dovecot-keywords) of the folder directory dir: dir itself, or with
// CONTROL= the folder's directory name under the control root, INBOX's
// being ".INBOX", as Dovecot 2.3 lays it out.
func (n *namer) control(dir string) string {
	if n.ctl == "" {
		return dir
	}
	if dir == n.root {
		return filepath.Join(n.ctl, "."+inboxName)
	}
	rel, err := filepath.Rel(n.root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return dir
	}
	return filepath.Join(n.ctl, rel)
}

// canonical returns the mailbox name with INBOX in upper case and the
// namespace prefix checked, or errNoSuchMailbox's cousin errBadName when the
// name cannot exist.
func (n *namer) canonical(name string) (string, error) {
	if strings.EqualFold(name, inboxName) {
		return inboxName, nil
	}
	if n.prefix != "" {
		if len(name) < len(n.prefix) || !strings.EqualFold(name[:len(n.prefix)], n.prefix) {
			return "", errBadName
		}
		// INBOX.x: keep the prefix spelled the way we advertise it.
		name = n.prefix + name[len(n.prefix):]
	} else if len(name) > len(inboxName) && strings.EqualFold(name[:len(inboxName)+1], inboxName+string(Delim)) {
		name = inboxName + name[len(inboxName):]
	}
	return name, nil
}

// folderDir returns the directory, relative to the root, that holds mailbox
// name: "." for INBOX, ".A.B" for A.B. It rejects every name that could leave
// the root or that Maildir++ cannot store.
func (n *namer) folderDir(name string) (string, error) {
	name, err := n.canonical(name)
	if err != nil {
		return "", err
	}
	if name == inboxName {
		return ".", nil
	}
	rel := strings.TrimPrefix(name, n.prefix)
	if err := checkMailboxName(rel); err != nil {
		return "", err
	}
	disk := rel
	if !n.utf8 {
		disk = mutf7.Encode(rel)
	}
	if len(disk)+1 > maxFolderNameBytes {
		return "", errNameTooLong
	}
	return "." + disk, nil
}

// path returns the absolute folder directory of mailbox name.
func (n *namer) path(name string) (string, error) {
	dir, err := n.folderDir(name)
	if err != nil {
		return "", err
	}
	if dir == "." {
		return n.root, nil
	}
	return filepath.Join(n.root, dir), nil
}

// mailboxName returns the IMAP mailbox name of a folder directory entry in the
// root (".A.B" gives "A.B"), or false if the entry is not a Maildir++ folder.
func (n *namer) mailboxName(entry string) (string, bool) {
	if len(entry) < 2 || entry[0] != '.' || entry[1] == '.' {
		return "", false // not a folder, or "..", or Dovecot's "..DOVECOT-TRASHED"
	}
	rel := entry[1:]
	if strings.HasSuffix(rel, ".") || strings.Contains(rel, "..") {
		return "", false
	}
	if name, err := mutf7.Decode(rel); err == nil && name != rel {
		rel = name // Dovecot: modified UTF-7 on disk
	} else if !utf8.ValidString(rel) {
		return "", false
	}
	if strings.EqualFold(rel, inboxName) && n.prefix == "" {
		return "", false // ".INBOX" would shadow the root
	}
	if checkMailboxName(rel) != nil {
		return "", false
	}
	return n.prefix + rel, true
}

// checkMailboxName validates a mailbox name relative to the namespace prefix.
func checkMailboxName(rel string) error {
	if rel == "" || !utf8.ValidString(rel) {
		return errBadName
	}
	for _, level := range strings.Split(rel, string(Delim)) {
		if level == "" {
			return errBadName // "A..B", ".A", "A.": empty hierarchy level
		}
	}
	for _, r := range rel {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return errBadName
		case r == '/' || r == '\\' || r == '*' || r == '%':
			return errBadName
		}
	}
	return nil
}

// parent returns the parent mailbox of name, or "" at the top.
func parent(name string) string {
	i := strings.LastIndexByte(name, Delim)
	if i < 0 {
		return ""
	}
	return name[:i]
}
