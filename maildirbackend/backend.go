package maildirbackend

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// DefaultAppendLimit is the APPEND size limit when Options.AppendLimit is 0.
const DefaultAppendLimit = 64 << 20

// AuthFunc checks a user's credentials and returns the absolute path of the
// user's Maildir root. It returns [imapserver.ErrAuthFailed] (or an error
// wrapping it) for wrong credentials. It must be safe for concurrent use.
type AuthFunc func(username, password string) (maildir string, err error)

// Options configures a [Backend]. The zero value serves no user.
type Options struct {
	// Logger receives the backend's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Authenticate resolves users. Nil refuses every login.
	Authenticate AuthFunc
	// Prefix is the personal namespace prefix: "" (Dovecot's default, the
	// mailbox of folder .Sent is "Sent") or "INBOX." (Courier's: "INBOX.Sent").
	Prefix string
	// UTF8FolderNames stores new folder names in UTF-8 on disk, as
	// Courier-IMAP 5 does, instead of Dovecot's modified UTF-7. Existing
	// folders are read in either form.
	UTF8FolderNames bool
	// AppendLimit is the largest message APPEND accepts, in bytes. Zero means
	// DefaultAppendLimit.
	AppendLimit uint32
	// Watcher follows the folders that sessions select. Nil means New creates
	// one, and Close closes it.
	Watcher *watch.Watcher
	// FolderLinger is how long a folder stays open (watched, with its
	// parsed-message cache) after its last session leaves, so that the next
	// SELECT or STATUS is served from memory. Zero means one minute; a
	// negative value closes folders at once.
	FolderLinger time.Duration
	// KeepaliveInterval is how often a client in IDLE is sent
	// "* OK Still here", as Dovecot does, so that NAT and mobile networks
	// keep the connection open. Zero means two minutes.
	KeepaliveInterval time.Duration
	// AuthFailureDelay is how long after its start a failed login is
	// answered, whatever the cause, as Dovecot's auth_failure_delay: it
	// slows down guessing and hides which users exist. Zero means
	// DefaultAuthFailureDelay (2 s); negative means no delay.
	AuthFailureDelay time.Duration
	// MaxAuthFailures is how many failed logins a connection may make; the
	// last is answered NO, then BYE. Zero means DefaultMaxAuthFailures (3).
	MaxAuthFailures int
	// IPAuthFailures is how many failed logins one client address (an
	// IPv4 address, an IPv6 /64) may make in a burst; past it, attempts
	// from that address fail without their password being checked, and one
	// attempt is regained every IPAuthFailureInterval. Zero means
	// DefaultIPAuthFailures (10); negative means no per-address throttle.
	IPAuthFailures int
	// IPAuthFailureInterval: see IPAuthFailures. Zero means
	// DefaultIPAuthFailureInterval (6 s).
	IPAuthFailureInterval time.Duration
	// MaxUserIPConns caps the logged-in sessions of one user from one
	// client address, as Dovecot's mail_max_userip_connections (whose
	// default is 10); the login over the cap is answered NO, then BYE.
	// Zero means no cap.
	MaxUserIPConns int
	// LoginTimeout is how long a connection may stay unauthenticated
	// before it is sent BYE. Zero means DefaultLoginTimeout (1 min);
	// negative means no limit.
	LoginTimeout time.Duration
	// Metrics receives the backend's measurements. Nil means none.
	Metrics Metrics
	// NoFullTextIndex turns off the full-text index (maildir-imapd.fts in
	// each folder's control directory) that SEARCH BODY and TEXT use:
	// they then read every message.
	NoFullTextIndex bool
	// ControlDir returns the directory of the control files of the Maildir
	// at root (Dovecot's mail_location option CONTROL=), laid out as
	// Dovecot 2.3 does: dovecot-uidlist and dovecot-keywords of folder .A
	// in <dir>/.A, INBOX's in <dir>/.INBOX, and subscriptions and
	// dovecot-uidvalidity in <dir>. It is created when missing. Nil, or ""
	// for a root, keeps them in the Maildir. It must be safe for
	// concurrent use.
	ControlDir func(root string) string
	// NotifyLimit bounds what one NOTIFY session holds (notify.go): the
	// mailboxes it watches and the mailbox-list changes one report may
	// carry; past it the session gets [NOTIFICATIONOVERFLOW]. Zero means
	// DefaultNotifyLimit.
	NotifyLimit int
	// Quota returns the quota rules of the user whose Maildir is root
	// (Dovecot's quota_rule), kept in its maildirsize file (quota.go). Nil,
	// or nil rules, means no quota. It must be safe for concurrent use.
	Quota func(root string) *quota.Rules
	// SpecialUse maps mailbox names to their SPECIAL-USE attribute. Nil means
	// the well-known names (Sent, Drafts, Trash, Junk, Archive, and others).
	SpecialUse map[string]imap.MailboxAttr
	// Metadata configures METADATA (RFC 5464, metadata.go): limits and
	// the server's /shared entries.
	Metadata MetadataOptions
}

// Metrics receives measurements from a [Backend]; the daemon's
// implementation feeds Prometheus. Its methods must be safe for concurrent
// use and must not block.
type Metrics interface {
	// Push is called when a session has written updates that include a
	// change seen on disk (a delivery, another program's flag change or
	// removal), with the time from the file-system event to the write.
	Push(latency time.Duration)
}

// Backend serves Maildir++ trees to go-imap's server. It is safe for
// concurrent use; one Backend serves every connection of a process.
type Backend struct {
	opts       Options
	log        *slog.Logger
	watcher    *watch.Watcher
	ownWatcher bool
	keys       *keyGen
	guard      *authGuard
	userIP     *userIPCounter

	ftsSlot *ftsSlot // one full-text indexer at a time (ftsslot.go)

	mu       sync.Mutex
	accounts map[string]*account // by Maildir root
	caches   cacheTable          // open cache files (cachefile.go)
	closed   bool
}

// New returns a Backend. The caller must call Close when done.
func New(opts *Options) (*Backend, error) {
	b := &Backend{keys: newKeyGen(), accounts: make(map[string]*account), ftsSlot: newFTSSlot()}
	if opts != nil {
		b.opts = *opts
	}
	b.log = b.opts.Logger
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.opts.AppendLimit == 0 {
		b.opts.AppendLimit = DefaultAppendLimit
	}
	b.opts.Metadata = b.opts.Metadata.withDefaults()
	if b.opts.KeepaliveInterval <= 0 {
		b.opts.KeepaliveInterval = 2 * time.Minute
	}
	if b.opts.NotifyLimit <= 0 {
		b.opts.NotifyLimit = DefaultNotifyLimit
	}
	if b.opts.FolderLinger == 0 {
		b.opts.FolderLinger = time.Minute
	}
	if b.opts.MaxAuthFailures <= 0 {
		b.opts.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if b.opts.LoginTimeout == 0 {
		b.opts.LoginTimeout = DefaultLoginTimeout
	}
	b.guard = newAuthGuard(&b.opts, b.log)
	b.userIP = &userIPCounter{max: b.opts.MaxUserIPConns}
	if b.opts.SpecialUse == nil {
		b.opts.SpecialUse = defaultSpecialUse(b.opts.Prefix)
	}
	b.watcher = b.opts.Watcher
	if b.watcher == nil {
		w, err := watch.New(&watch.Options{Logger: b.log})
		if err != nil {
			return nil, fmt.Errorf("start watcher: %w", err)
		}
		b.watcher, b.ownWatcher = w, true
	}
	return b, nil
}

// Caps returns the capabilities to put in imapserver.Options.Caps: every one
// go-imap v2 lets a backend turn on. APPENDLIMIT=<n> is announced through
// the session.
func (b *Backend) Caps() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:        {},
		imap.CapIMAP4rev2:        {},
		imap.CapNamespace:        {},
		imap.CapUIDPlus:          {},
		imap.CapESearch:          {},
		imap.CapSearchRes:        {},
		imap.CapListExtended:     {},
		imap.CapListStatus:       {},
		imap.CapMove:             {},
		imap.CapStatusSize:       {},
		imap.CapBinary:           {},
		imap.CapChildren:         {},
		imap.CapSpecialUse:       {},
		imap.CapCreateSpecialUse: {},
		imap.CapLiteralPlus:      {},
		imap.CapUnauthenticate:   {},
		imap.CapAppendLimit:      {},
	}
}

// NewSession returns a session for a new connection. Its signature is that
// of imapserver.Options.NewSession.
func (b *Backend) NewSession(conn *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s := &Session{b: b}
	if conn != nil {
		s.conn = conn
	}
	s.startLoginTimer()
	return s, nil, nil
}

// NewEngineSession returns a session for a connection of the project's own
// engine, imapd: its signature is that of imapd.Options.NewSession.
func (b *Backend) NewEngineSession(c *imapd.Conn) (imapd.Session, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s := &EngineSession{Session: &Session{b: b, conn: c}}
	s.startLoginTimer()
	return s, nil
}

// Close releases the watcher if New created it. Sessions still open keep
// working on their folders but no longer see changes from disk.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	accounts := make([]*account, 0, len(b.accounts))
	for _, a := range b.accounts {
		accounts = append(accounts, a)
	}
	b.mu.Unlock()
	for _, a := range accounts {
		a.closeAll()
	}
	// The folders stop in goroutines; their cache files are written and
	// closed here, before Close returns, so that the next process finds
	// them complete and unlocked.
	b.caches.closeAll()
	if b.ownWatcher {
		return b.watcher.Close()
	}
	return nil
}

// openAccount returns the shared account of a Maildir root. The caller must
// call closeAccount.
func (b *Backend) openAccount(root string) (*account, error) {
	if !filepath.IsAbs(root) {
		return nil, errors.New("maildir path is not absolute")
	}
	root = filepath.Clean(root)
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.accounts[root]
	if a == nil {
		var ctl string
		if b.opts.ControlDir != nil {
			ctl = b.opts.ControlDir(root)
		}
		a = &account{
			b:       b,
			root:    root,
			names:   namer{root: root, prefix: b.opts.Prefix, utf8: b.opts.UTF8FolderNames, ctl: ctl},
			log:     b.log.With("maildir", root),
			folders: make(map[string]*folder),
		}
		b.accounts[root] = a
		if ctl != "" {
			if err := os.MkdirAll(ctl, 0o700); err != nil {
				a.log.Warn("cannot create the control directory", "dir", ctl, "err", err)
			}
		}
	}
	a.refs++
	return a, nil
}

func (b *Backend) closeAccount(a *account) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Accounts stay in the map: their folders may linger, and a user who
	// logs in again must find the same folder states.
	a.refs--
}

// defaultSpecialUse gives the usual folder names their SPECIAL-USE
// attribute (RFC 6154), as clients such as iOS Mail expect.
func defaultSpecialUse(prefix string) map[string]imap.MailboxAttr {
	m := map[string]imap.MailboxAttr{
		"Sent":             imap.MailboxAttrSent,
		"Sent Messages":    imap.MailboxAttrSent,
		"Sent Items":       imap.MailboxAttrSent,
		"Drafts":           imap.MailboxAttrDrafts,
		"Trash":            imap.MailboxAttrTrash,
		"Deleted Messages": imap.MailboxAttrTrash,
		"Deleted Items":    imap.MailboxAttrTrash,
		"Junk":             imap.MailboxAttrJunk,
		"Spam":             imap.MailboxAttrJunk,
		"Archive":          imap.MailboxAttrArchive,
	}
	if prefix == "" {
		return m
	}
	p := make(map[string]imap.MailboxAttr, len(m))
	for k, v := range m {
		p[prefix+k] = v
	}
	return p
}
