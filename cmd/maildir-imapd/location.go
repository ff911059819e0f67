package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// mailLocations resolves users' Maildirs from Dovecot 2.3 mail locations
// ("maildir:~/Maildir:CONTROL=...:INDEX=...:UTF8") and remembers the
// control directory of each root for the backend (Options.ControlDir).
// Every option is honoured or refused:
//
//	CONTROL=dir       honoured: dovecot-uidlist, dovecot-keywords and
//	                  subscriptions are read and written there
//	INDEX=dir         ignored, and logged: maildir-imapd keeps no Dovecot
//	                  index; Dovecot's index files are left alone
//	UTF8              honoured: utf8_folder_names, for every user alike
//	LAYOUT=maildir++  honoured (the only layout served)
//	LAYOUT=fs, other  refused: the folders would be read wrong
//	INBOX=dir         refused unless it is the Maildir root itself
//	anything else     refused
//
// It is safe for concurrent use.
type mailLocations struct {
	template string // immutable: mail_location
	utf8     bool   // immutable: folder names in UTF-8 (utf8_folder_names or :UTF8)
	log      *slog.Logger

	controls   sync.Map // Maildir root -> control directory
	indexNoted sync.Map // user name -> true once its INDEX= was logged

	usersFile  bool         // immutable: users come from a passwd-file (whose extra fields may give quotas)
	quotaRule  []string     // immutable: the configuration's quota_rule, quota_rule2, ...
	quotaGrace string       // immutable: quota_grace
	quotas     sync.Map     // Maildir root -> *quota.Rules of its user (nil: none)
	baseQuota  *quota.Rules // immutable: the configuration's rules alone (single user, system users)
}

// templateUser stands for any user when the template alone is checked.
var templateUser = &passwdfile.User{Name: "user@example.org", Home: "/home/user", UID: -1, GID: -1}

// templateLocation parses mail_location for a stand-in user, for the
// checks of the configuration.
func (c *Config) templateLocation() (*passwdfile.Location, error) {
	return passwdfile.ParseLocation(c.MailLocation, templateUser)
}

// utf8Names reports whether folder names are UTF-8 on disk:
// utf8_folder_names, or :UTF8 in mail_location.
func (c *Config) utf8Names() bool {
	if c.UTF8FolderNames {
		return true
	}
	loc, err := c.templateLocation()
	return err == nil && loc.UTF8
}

// newMailLocations returns the resolver of cfg's users. It logs once that
// an INDEX= of mail_location is ignored.
func newMailLocations(cfg *Config, logger *slog.Logger) *mailLocations {
	m := &mailLocations{template: cfg.MailLocation, utf8: cfg.utf8Names(), log: logger,
		quotaRule: cfg.QuotaRule, quotaGrace: cfg.QuotaGrace, usersFile: cfg.Users != ""}
	m.baseQuota, _ = quota.FromFields(cfg.QuotaRule, cfg.QuotaGrace, nil) // checked by validate
	if loc, err := cfg.templateLocation(); err == nil && loc.Index != "" {
		logger.Info("mail_location INDEX= is ignored: maildir-imapd keeps no Dovecot index and leaves its files alone",
			"mail_location", cfg.MailLocation)
	}
	return m
}

// maildir returns u's Maildir root: the user's own location (userdb_mail or
// mail) or the template, refused when it has an option that is not
// served (checkLocation).
func (m *mailLocations) maildir(u *passwdfile.User) (string, error) {
	template, own := m.template, u.MailLocation()
	if own != "" {
		template = own
	}
	loc, err := passwdfile.ParseLocation(template, u)
	if err != nil {
		return "", err
	}
	if err := checkLocation(loc); err != nil {
		return "", fmt.Errorf("user %q: mail location %q: %w", u.Name, template, err)
	}
	if own != "" && loc.UTF8 != m.utf8 {
		return "", fmt.Errorf("user %q: mail location %q: UTF8 must be the same for every user (utf8_folder_names or :UTF8 in mail_location)", u.Name, template)
	}
	if own != "" && loc.Index != "" {
		if _, logged := m.indexNoted.LoadOrStore(u.Name, true); !logged {
			m.log.Info("mail location INDEX= is ignored: maildir-imapd keeps no Dovecot index", "user", u.Name)
		}
	}
	rules, err := quota.FromFields(m.quotaRule, m.quotaGrace, u.Extra)
	if err != nil {
		return "", fmt.Errorf("user %q: %w", u.Name, err)
	}
	m.quotas.Store(loc.Path, rules)
	if loc.Control != "" {
		m.controls.Store(loc.Path, loc.Control)
	} else {
		m.controls.Delete(loc.Path)
	}
	return loc.Path, nil
}

// quota is the backend's Options.Quota: the rules of the user whose
// Maildir is root (set when the user logged in or was looked up), else the
// configuration's.
func (m *mailLocations) quota(root string) *quota.Rules {
	if v, ok := m.quotas.Load(root); ok {
		return v.(*quota.Rules)
	}
	return m.baseQuota
}

// controlDir is the backend's Options.ControlDir: the CONTROL= of the user
// whose Maildir is root, "" for none.
func (m *mailLocations) controlDir(root string) string {
	if v, ok := m.controls.Load(root); ok {
		return v.(string)
	}
	return ""
}

// checkLocation refuses the options of a mail location that are not
// served.
func checkLocation(loc *passwdfile.Location) error {
	var errs []error
	if loc.Layout != "" && !strings.EqualFold(loc.Layout, "maildir++") {
		errs = append(errs, fmt.Errorf("LAYOUT=%s is not supported: maildir-imapd serves the Maildir++ layout only "+
			"(mailbox A/B in the directory .A.B); it would show this tree's folders wrong", loc.Layout))
	}
	if loc.Inbox != "" && loc.Inbox != loc.Path {
		errs = append(errs, fmt.Errorf("INBOX=%s is not supported: INBOX must be the Maildir root", loc.Inbox))
	}
	for _, o := range loc.Other {
		errs = append(errs, fmt.Errorf("option %q is not supported", o))
	}
	return errors.Join(errs...)
}

// quotaFunc returns quota as the backend's Options.Quota, or nil when no
// user can have a quota: no rule in the configuration, and no users file
// whose extra fields could give one.
func (m *mailLocations) quotaFunc() func(root string) *quota.Rules {
	if m.baseQuota == nil && !m.usersFile {
		return nil
	}
	return m.quota
}
