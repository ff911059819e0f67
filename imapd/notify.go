package imapd

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// NOTIFY (RFC 5465): the client names the mailboxes and events it wants to
// hear about; the session reports them as unsolicited STATUS and LIST
// responses (notifyasync.go sends them between commands and during IDLE).

func init() {
	register(authed, handleNotify, "NOTIFY")
}

// NotifyFilter is the filter-mailboxes of one NOTIFY event group.
type NotifyFilter int

// The mailbox filters of RFC 5465 section 6.
const (
	NotifySelected        NotifyFilter = iota + 1 // the selected mailbox
	NotifySelectedDelayed                         // the selected mailbox, expunges only when the client allows them
	NotifyInboxes                                 // the mailboxes mail is delivered to
	NotifyPersonal                                // every mailbox of the personal namespace
	NotifySubscribed                              // the subscribed mailboxes
	NotifySubtree                                 // the named mailboxes and those below them
	NotifyMailboxes                               // the named mailboxes
)

// NotifyEvent is a set of NOTIFY events.
type NotifyEvent uint8

// The events this engine knows (RFC 5465 section 5). AnnotationChange and
// the METADATA events are answered NO [BADEVENT].
const (
	NotifyMessageNew NotifyEvent = 1 << iota
	NotifyMessageExpunge
	NotifyFlagChange
	NotifyMailboxName
	NotifySubscriptionChange
)

// supportedEvents is what a BADEVENT response code lists: the events the
// server supports (RFC 5465 section 3.1).
const supportedEvents = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

var notifyEventNames = map[string]NotifyEvent{
	"MESSAGENEW":         NotifyMessageNew,
	"MESSAGEEXPUNGE":     NotifyMessageExpunge,
	"FLAGCHANGE":         NotifyFlagChange,
	"MAILBOXNAME":        NotifyMailboxName,
	"SUBSCRIPTIONCHANGE": NotifySubscriptionChange,
}

// messageEvents are the events about messages, the only ones SELECTED and
// SELECTED-DELAYED take.
const messageEvents = NotifyMessageNew | NotifyMessageExpunge | NotifyFlagChange

// NotifyGroup is one event group of NOTIFY SET.
type NotifyGroup struct {
	Filter    NotifyFilter
	Mailboxes []string    // SUBTREE and MAILBOXES: the names given
	Events    NotifyEvent // 0: NONE
}

// NotifySet is a parsed NOTIFY SET.
type NotifySet struct {
	// Status asks for a STATUS response for every mailbox the groups
	// name, before the tagged OK.
	Status bool
	// Groups are the event groups of mailboxes other than the selected
	// one, in the order given.
	Groups []NotifyGroup
	// Selected is the SELECTED or SELECTED-DELAYED group; nil when the
	// command has none.
	Selected *NotifyGroup

	fetch *fetchArgs // MessageNew's fetch attributes for the selected mailbox; may be nil
}

// SessionNotify is a Session that supports NOTIFY (RFC 5465) for mailboxes
// other than the selected one; the engine handles the selected mailbox's
// part with Poll and Fetch.
type SessionNotify interface {
	// SetNotify replaces the session's notifications; set is nil for
	// NOTIFY NONE. When set.Status, it writes a STATUS response through w
	// for every existing mailbox other than the selected one that the
	// set asks message events of. ready may be called from any goroutine,
	// without blocking, whenever notifications are pending; the engine
	// then calls FlushNotify from the connection's goroutine or from one
	// of its own, never during another call of the session but Idle's.
	SetNotify(w *NotifyWriter, set *NotifySet, ready func()) error
	// FlushNotify writes the pending notifications.
	FlushNotify(w *NotifyWriter) error
}

// NotifyWriter writes NOTIFY's unsolicited responses.
type NotifyWriter struct{ c *Conn }

// WriteStatus writes "* STATUS name (...)" with the items of o.
func (w *NotifyWriter) WriteStatus(d *imap.StatusData, o *imap.StatusOptions) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	writeStatusData(e, d, o)
	return e.err
}

// WriteList writes "* LIST (attrs) delim name", with the OLDNAME
// extended data item of a renamed mailbox, as Dovecot writes it.
func (w *NotifyWriter) WriteList(d *imap.ListData) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.listHead("LIST", d)
	if d.OldName != "" {
		e.raw(` ("OLDNAME" (`).mailbox(d.OldName).raw("))")
	}
	e.crlf()
	return e.err
}

// WriteOverflow writes "* OK [NOTIFICATIONOVERFLOW] text" and turns
// notifications off, as NOTIFY NONE does (RFC 5465 section 5.8); the
// session must forget its set too.
func (w *NotifyWriter) WriteOverflow(text string) error {
	w.c.setNotify(nil)
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.statusLine("", &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Code: "NOTIFICATIONOVERFLOW", Text: text})
	return e.err
}

func handleNotify(c *Conn, cmd *command) error {
	s, ok := c.session.(SessionNotify)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command NOTIFY"}
	}
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	word, err := p.atom()
	if err != nil {
		return err
	}
	var set *NotifySet
	switch strings.ToUpper(word) {
	case "NONE":
	case "SET":
		if set, err = p.notifySet(); err != nil {
			return err
		}
	default:
		return notifyBad("NOTIFY takes SET or NONE")
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	if set != nil {
		if err := set.check(); err != nil {
			return err
		}
	}
	// The selected mailbox's pending updates go out under the old set
	// (RFC 5465 section 3.1: delayed expunges are sent now).
	if err := c.poll("NOTIFY"); err != nil {
		return err
	}
	if err := s.SetNotify(&NotifyWriter{c: c}, set, c.notifyReady); err != nil {
		return err
	}
	c.setNotify(set)
	cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "NOTIFY completed"}
	return nil
}

// notifyBad is NOTIFY's BAD for arguments the grammar allows but the
// command does not, without [CLIENTBUG], as Dovecot answers.
func notifyBad(format string, args ...any) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Error in IMAP command NOTIFY: " + fmt.Sprintf(format, args...)}
}

// notifySet reads [SP "STATUS"] SP event-group *(SP event-group).
func (p *parser) notifySet() (*NotifySet, error) {
	set := &NotifySet{}
	if err := p.sp(); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		b, err := p.peek()
		if err != nil {
			return nil, err
		}
		if first && b != '(' {
			w, err := p.atom()
			if err != nil {
				return nil, err
			}
			if !strings.EqualFold(w, "STATUS") {
				return nil, notifyBad("expected STATUS or an event group")
			}
			set.Status = true
			if err := p.sp(); err != nil {
				return nil, err
			}
		}
		if err := p.eventGroup(set); err != nil {
			return nil, err
		}
		if more, err := p.maybeSP(); err != nil {
			return nil, err
		} else if !more {
			return set, nil
		}
	}
}

var notifyFilters = map[string]NotifyFilter{
	"SELECTED": NotifySelected, "SELECTED-DELAYED": NotifySelectedDelayed, "INBOXES": NotifyInboxes,
	"PERSONAL": NotifyPersonal, "SUBSCRIBED": NotifySubscribed, "SUBTREE": NotifySubtree, "MAILBOXES": NotifyMailboxes,
}

// eventGroup reads "(" filter-mailboxes SP events ")".
func (p *parser) eventGroup(set *NotifySet) error {
	if err := p.expect('(', "'('"); err != nil {
		return err
	}
	word, err := p.atom()
	if err != nil {
		return err
	}
	g := NotifyGroup{Filter: notifyFilters[strings.ToUpper(word)]}
	if g.Filter == 0 {
		return notifyBad("unknown mailbox filter %s", word)
	}
	if err := p.sp(); err != nil {
		return err
	}
	if g.Filter == NotifySubtree || g.Filter == NotifyMailboxes {
		if g.Mailboxes, err = p.oneOrMoreMailbox(); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	selected := g.Filter == NotifySelected || g.Filter == NotifySelectedDelayed
	var fetch *fetchArgs
	if g.Events, fetch, err = p.notifyEvents(selected); err != nil {
		return err
	}
	if err := p.expect(')', "')'"); err != nil {
		return err
	}
	if selected {
		if set.Selected != nil {
			return notifyBad("only one SELECTED or SELECTED-DELAYED group")
		}
		set.Selected, set.fetch = &g, fetch
		return nil
	}
	set.Groups = append(set.Groups, g)
	return nil
}

// oneOrMoreMailbox reads mailbox / "(" mailbox *(SP mailbox) ")".
func (p *parser) oneOrMoreMailbox() ([]string, error) {
	b, err := p.peek()
	if err != nil {
		return nil, err
	}
	if b != '(' {
		name, err := p.mailbox()
		return []string{name}, err
	}
	var names []string
	err = p.list(func() error {
		name, err := p.mailbox()
		names = append(names, name)
		return err
	})
	if err == nil && len(names) == 0 {
		err = notifyBad("empty mailbox list")
	}
	return names, err
}

// notifyEvents reads "NONE" / "(" event *(SP event) ")". An event this
// server does not support is a NO [BADEVENT] listing those it supports.
func (p *parser) notifyEvents(selected bool) (NotifyEvent, *fetchArgs, error) {
	b, err := p.peek()
	if err != nil {
		return 0, nil, err
	}
	if b != '(' {
		w, err := p.atom()
		if err == nil && !strings.EqualFold(w, "NONE") {
			err = notifyBad("expected NONE or a list of events")
		}
		return 0, nil, err
	}
	p.readByte()
	var events NotifyEvent
	var fetch *fetchArgs
	for {
		name, err := p.atom()
		if err != nil {
			return 0, nil, err
		}
		ev, ok := notifyEventNames[strings.ToUpper(name)]
		if !ok {
			return 0, nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: "BADEVENT (" + supportedEvents + ")",
				Text: "Unsupported NOTIFY event " + name}
		}
		events |= ev
		b, err := p.readByte()
		if err != nil {
			return 0, nil, err
		}
		if b == ')' {
			return events, fetch, nil
		}
		if b != ' ' {
			return 0, nil, syntaxf("expected SP or ')' after %s", name)
		}
		if next, err := p.peek(); err != nil {
			return 0, nil, err
		} else if next != '(' {
			continue
		}
		// MessageNew SP "(" fetch-att *(SP fetch-att) ")"
		if ev != NotifyMessageNew || !selected {
			return 0, nil, notifyBad("fetch attributes only follow MessageNew of the selected mailbox")
		}
		if fetch, err = p.notifyFetchAtts(); err != nil {
			return 0, nil, err
		}
		if b, err = p.readByte(); err != nil {
			return 0, nil, err
		}
		if b == ')' {
			return events, fetch, nil
		}
		if b != ' ' {
			return 0, nil, syntaxf("expected SP or ')' after the fetch attributes")
		}
	}
}

// notifyFetchAtts reads "(" fetch-att *(SP fetch-att) ")", as FETCH reads
// its list; the answer always carries the UID.
func (p *parser) notifyFetchAtts() (*fetchArgs, error) {
	a := &fetchArgs{obsolete: map[*imap.FetchItemBodySection]string{}}
	err := p.fetchAttList(a)
	a.opts.UID = true
	return a, err
}

// check applies the rules of RFC 5465 section 5 to the selected
// mailbox's group: message events only, MessageNew and MessageExpunge
// together, FlagChange with them. Like Dovecot, it does not apply them to
// the other groups: RFC 5465's own example asks (subtree Lists
// (MessageNew)).
func (set *NotifySet) check() error {
	g := set.Selected
	if g == nil {
		return nil
	}
	ev := g.Events
	if ev&^messageEvents != 0 {
		return notifyBad("SELECTED takes message events only")
	}
	if (ev&NotifyMessageNew != 0) != (ev&NotifyMessageExpunge != 0) {
		return notifyBad("MessageNew and MessageExpunge must be together")
	}
	if ev&NotifyFlagChange != 0 && ev&NotifyMessageNew == 0 {
		return notifyBad("FlagChange requires MessageNew and MessageExpunge")
	}
	return nil
}
