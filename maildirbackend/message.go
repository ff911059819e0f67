package maildirbackend

import (
	"github.com/emersion/go-imap/v2"
)

// message is one message of an open folder. Every field is protected by the
// folder's mutex; key and uid never change.
type message struct {
	uid   imap.UID
	key   string
	inNew bool    // in new/ rather than cur/
	info  string  // the file name after the key, separator included
	flags flagSet // parsed from info

	fsize int64 // physical size, -1 while unknown
	vsize int64 // RFC822.SIZE (CRLF line endings), -1 while unknown
	mtime int64 // INTERNALDATE as Unix seconds, 0 while unknown

	modseq uint64 // MODSEQ of its last change (modseq.go)

	content *content // ENVELOPE, BODYSTRUCTURE, ...: nil until needed, or evicted (memCache)
}

// newMessage returns a message for a file found on disk, with the sizes its
// name carries.
func newMessage(key string, inNew bool, info string) *message {
	return &message{
		key:   key,
		inNew: inNew,
		info:  info,
		flags: parseInfo(info),
		fsize: nameSize(key, 'S'),
		vsize: nameSize(key, 'W'),
	}
}

// name is the file name.
func (m *message) name() string { return m.key + m.info }

// rel is the path relative to the folder: "new/<name>" or "cur/<name>".
func (m *message) rel() string {
	if m.inNew {
		return "new/" + m.name()
	}
	return "cur/" + m.name()
}
