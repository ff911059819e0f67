package maildirbackend

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Errors of [Backend.Deliver], for the caller to map to its protocol's
// replies (LMTP codes, sysexits). The error Deliver returns wraps one of them
// and the cause; any other error is a temporary failure.
var (
	// ErrMessageTooBig: the message exceeds Options.AppendLimit.
	ErrMessageTooBig = errors.New("message exceeds the size limit")
	// ErrNoSpace: the file system is full (ENOSPC).
	ErrNoSpace = errors.New("no space left on the mail store")
	// ErrOverQuota: the user's file-system quota is exhausted (EDQUOT).
	ErrOverQuota = errors.New("mailbox over quota")
)

// Deliver stores the message read from r in mailbox of the Maildir at root
// (an absolute path), as an MTA does: it writes the file in tmp/ with LF
// line endings (CRLF from the wire is converted, as Dovecot stores it),
// fsyncs it, renames it into new/ under a unique Maildir++ name with its
// size (",S=<bytes>,W=<CRLF bytes>"). Like Postfix's virtual(8) and
// Dovecot (and APPEND here), it does not fsync the directory. On any failure the
// file in tmp/ is removed: nothing half-written stays.
//
// Mailbox "" is INBOX. A name without the namespace prefix (Options.Prefix)
// gets it. A mailbox that does not exist, or that no folder can hold, gets
// the message in INBOX instead, as Dovecot's LDA and LMTP do when they do
// not create mailboxes (lda_mailbox_autocreate=no). The root and INBOX's
// new/ cur/ tmp/ are created when missing. Deliver returns the mailbox the
// message went to.
//
// When a session of this Backend has the folder open, the folder takes the
// message (UID, IDLE updates) before Deliver returns, without waiting for
// the watcher. Deliver is safe for concurrent use. It blocks while the
// folder waits for a foreign dovecot-uidlist lock (30 s at most); the file
// is in new/ by then.
func (b *Backend) Deliver(root, mailbox string, r io.Reader) (string, error) {
	var q *accountQuota
	if b.opts.Quota != nil && filepath.IsAbs(root) {
		// The account's quota, shared with its IMAP sessions.
		a, err := b.openAccount(root)
		if err != nil {
			return "", err
		}
		q = a.quota()
		defer b.closeAccount(a)
	}
	name, path, m, err := deliver(b.keys, &b.opts, b.log, q, root, mailbox, r)
	if err != nil {
		return "", err
	}
	b.announceDelivery(filepath.Clean(root), path, m)
	return name, nil
}

// Deliver is [Backend.Deliver] for a process without a Backend (the
// `deliver` command, as Dovecot's LDA): it uses opts's Prefix,
// UTF8FolderNames, AppendLimit (0: DefaultAppendLimit) and Logger (nil:
// slog.Default()), and no server is told: a running server sees the file
// through its watcher.
func Deliver(root, mailbox string, r io.Reader, opts *Options) (string, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.AppendLimit == 0 {
		o.AppendLimit = DefaultAppendLimit
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	var q *accountQuota
	if o.Quota != nil && filepath.IsAbs(root) {
		root = filepath.Clean(root)
		ctl := root
		if o.ControlDir != nil && o.ControlDir(root) != "" {
			ctl = o.ControlDir(root)
		}
		names := namer{root: root, prefix: o.Prefix, utf8: o.UTF8FolderNames, ctl: ctl}
		q = newAccountQuota(names, ctl, rulesOf(&o, root), log)
	}
	name, _, _, err := deliver(newKeyGen(), &o, log, q, root, mailbox, r)
	return name, err
}

// deliver stores one message and returns its mailbox, folder and file.
func deliver(keys *keyGen, opts *Options, log *slog.Logger, q *accountQuota, root, mailbox string, r io.Reader) (string, string, *message, error) {
	if !filepath.IsAbs(root) {
		return "", "", nil, errors.New("deliver: maildir path is not absolute")
	}
	names := namer{root: filepath.Clean(root), prefix: opts.Prefix, utf8: opts.UTF8FolderNames}
	name, path := deliveryFolder(&names, mailbox, log)
	if _, err := ensureFolderDirs(path, name == inboxName); err != nil {
		return "", "", nil, fmt.Errorf("deliver to %s: %w", name, deliveryError(err))
	}
	admit := func(int64) (func(bool), error) { return func(bool) {}, nil }
	if q != nil {
		admit = func(size int64) (func(bool), error) {
			done, err := q.reserve(name, usage{Bytes: size, Count: 1}, true)
			if errors.Is(err, errOverQuota) {
				err = fmt.Errorf("%w: Maildir++ quota", ErrOverQuota)
			}
			return done, err
		}
	}
	m, err := writeDelivery(keys, path, r, int64(opts.AppendLimit), admit)
	if err != nil {
		return "", "", nil, fmt.Errorf("deliver to %s: %w", name, err)
	}
	return name, path, m, nil
}

// deliveryFolder resolves the mailbox of a delivery to an existing folder:
// the mailbox's, or INBOX's.
func deliveryFolder(names *namer, mailbox string, log *slog.Logger) (name, path string) {
	if mailbox != "" && !strings.EqualFold(mailbox, inboxName) && names.prefix != "" &&
		!strings.HasPrefix(strings.ToUpper(mailbox), strings.ToUpper(names.prefix)) {
		mailbox = names.prefix + mailbox
	}
	if mailbox != "" {
		if n, err := names.canonical(mailbox); err == nil {
			if p, err := names.path(n); err == nil {
				if _, err := statFolderDir(p, n == inboxName); err == nil {
					return n, p
				}
			}
		}
		log.Debug("delivery mailbox does not exist; delivering to INBOX", "mailbox", mailbox)
	}
	return inboxName, names.root
}

// writeDelivery writes the message of r into folder's tmp/, then new/, and
// returns it. limit bounds its size on the wire. admit is asked, with the
// size written, whether the quota takes it, before the file goes into new/
// (as Dovecot checks the quota when the save finishes).
func writeDelivery(keys *keyGen, folder string, r io.Reader, limit int64, admit func(size int64) (func(stored bool), error)) (*message, error) {
	tmp := filepath.Join(folder, "tmp", keys.next(-1, -1))
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, deliveryError(fmt.Errorf("create message: %w", err))
	}
	wire := &countingReader{r: io.LimitReader(r, limit+1)}
	size, lines, err := copyLF(file, wire)
	if err == nil && wire.n > limit {
		err = ErrMessageTooBig // counted as read: CRLF counts twice, as on the wire
	}
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	now := time.Now()
	m := &message{fsize: size, vsize: size + lines, mtime: now.Unix(), inNew: true}
	done := func(bool) {}
	if err == nil {
		done, err = admit(size)
	}
	if err == nil {
		m.key = keys.next(m.fsize, m.vsize)
		err = os.Rename(tmp, filepath.Join(folder, m.rel()))
		done(err == nil)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, deliveryError(err)
	}
	// The rename is what the MTA's reply promises: make it durable.
	return m, nil
}

// copyLF copies r to w, turning CRLF into LF, and returns the bytes written
// and the number of LFs (what CRLF output adds).
func copyLF(w io.Writer, r io.Reader) (size, lines int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	pendingCR := false
	for {
		line, rerr := br.ReadSlice('\n')
		if len(line) > 0 {
			if pendingCR && line[0] != '\n' {
				bw.WriteByte('\r')
				size++
			}
			pendingCR = false
			if line[len(line)-1] == '\n' {
				lines++
				if len(line) >= 2 && line[len(line)-2] == '\r' {
					line = append(line[:len(line)-2], '\n')
				}
			} else if line[len(line)-1] == '\r' {
				// A CR at the end of a buffer: its LF may come next.
				line, pendingCR = line[:len(line)-1], true
			}
			n, werr := bw.Write(line)
			size += int64(n)
			if werr != nil {
				return size, lines, werr
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && !errors.Is(rerr, bufio.ErrBufferFull) {
			return size, lines, rerr
		}
	}
	if pendingCR {
		bw.WriteByte('\r')
		size++
	}
	return size, lines, bw.Flush()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// deliveryError maps a file-system failure of a delivery to ErrNoSpace or
// ErrOverQuota, keeping the cause.
func deliveryError(err error) error {
	switch {
	case errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", ErrOverQuota, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, errNoSpace):
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// announceDelivery hands a message just delivered to the folder's open
// state, if a session of this process has the folder open, so that its
// IDLE clients see it without waiting for the watcher. A folder that is not
// open reads the file when it is next selected.
func (b *Backend) announceDelivery(root, path string, m *message) {
	b.mu.Lock()
	a := b.accounts[root]
	b.mu.Unlock()
	if a == nil {
		return
	}
	a.mu.Lock()
	f := a.folders[path]
	if f != nil {
		f.refs++
		if f.linger != nil {
			f.linger.Stop()
			f.linger = nil
		}
	}
	a.mu.Unlock()
	if f == nil {
		return
	}
	defer a.release(f)
	f.mu.Lock()
	ready := f.loaded && !f.gone
	f.mu.Unlock()
	if !ready {
		return
	}
	if _, _, err := f.addFiles([]*message{m}, false, nil); err != nil {
		// The watcher reports the file too; its sync retries.
		f.log.Debug("delivery left to the watcher", "err", err)
	}
}
