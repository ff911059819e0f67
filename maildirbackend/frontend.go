package maildirbackend

import (
	"io"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// The writers a command's work is written to. Two front-ends drive one
// Session: go-imap v2's imapserver (the plugin API, session.go and its
// neighbours) and the project's engine, imapd (engine.go). Both hand over
// writers with these methods.

// conn is the connection a session belongs to: *imapserver.Conn or
// *imapd.Conn.
type conn interface {
	Bye(text string) error
	NetConn() net.Conn
}

type updateWriter interface {
	idle.UpdateWriter
	WriteNumRecent(n uint32) error
}

type listWriter interface {
	WriteList(data *imap.ListData) error
}

type expungeWriter interface {
	WriteExpunge(seqNum uint32) error
}

type moveWriter interface {
	WriteCopyData(data *imap.CopyData) error
	WriteExpunge(seqNum uint32) error
}

// fetchWriter starts the FETCH response of one message.
type fetchWriter interface {
	CreateMessage(seqNum uint32) fetchResponseWriter
}

// fetchResponseWriter writes the items of one FETCH response.
type fetchResponseWriter interface {
	WriteUID(uid imap.UID)
	WriteFlags(flags []imap.Flag)
	WriteRFC822Size(size int64)
	WriteInternalDate(t time.Time)
	WriteBodySection(section *imap.FetchItemBodySection, size int64) io.WriteCloser
	WriteBinarySection(section *imap.FetchItemBinarySection, size int64) io.WriteCloser
	WriteBinarySectionSize(section *imap.FetchItemBinarySectionSize, size uint32)
	WriteEnvelope(envelope *imap.Envelope)
	WriteBodyStructure(bs imap.BodyStructure)
	Close() error
}

// goFetchWriter adapts go-imap's FetchWriter.
type goFetchWriter struct{ w *imapserver.FetchWriter }

func (g goFetchWriter) CreateMessage(seqNum uint32) fetchResponseWriter {
	return g.w.CreateMessage(seqNum)
}
