package quota

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/maildirsize"
)

// DefaultGrace is Dovecot's quota_grace: a delivery (LMTP, deliver) that
// starts under the limit may exceed it by 10% of the byte limit.
const DefaultGrace = "10%"

// Rules are one user's quota. The zero value has no limits. Rules are
// immutable once built and safe for concurrent use.
type Rules struct {
	// Storage and Messages are the default rule's limits, in bytes and
	// messages; zero means unlimited.
	Storage  int64
	Messages int64
	// Force says the default rule is "*": its limits are used, and a
	// maildirsize file with other limits is rewritten. With "?" (false),
	// the limits of an existing maildirsize file win.
	Force bool
	// Mailboxes are the rules of other masks, in the order given.
	Mailboxes []MailboxRule
	// Grace is how far a delivery may exceed the byte limit.
	Grace Grace
}

// MailboxRule is a rule for the mailboxes its Mask matches.
type MailboxRule struct {
	Mask string
	// Storage and Messages are added to the default rule's limits (they
	// may be negative); a Percent is of the default's limit instead.
	Storage, Messages               int64
	StoragePercent, MessagesPercent int64
	// Ignore leaves the mailboxes out of the quota: not counted, not
	// limited.
	Ignore bool
}

// Grace is a delivery's allowance over the byte limit: Bytes, or Percent
// of the limit.
type Grace struct {
	Bytes   int64
	Percent int64
}

// Limits returns the byte and message limits of mailbox, given the default
// limits in force (the rules', or a maildirsize file's), and whether the
// mailbox is ignored. As Dovecot, no limit at all (both zero) leaves every
// mailbox rule aside.
func (r *Rules) Limits(mailbox string, storage, messages int64) (int64, int64, bool) {
	if storage == 0 && messages == 0 {
		return 0, 0, false
	}
	mr := r.find(mailbox)
	if mr == nil {
		return storage, messages, false
	}
	if mr.Ignore {
		return 0, 0, true
	}
	bytes, count := storage+mr.Storage, messages+mr.Messages
	if mr.StoragePercent != 0 {
		bytes = storage + storage*mr.StoragePercent/100
	}
	if mr.MessagesPercent != 0 {
		count = messages + messages*mr.MessagesPercent/100
	}
	return max(bytes, 0), max(count, 0), false
}

// Ignored reports whether mailbox is left out of the quota.
func (r *Rules) Ignored(mailbox string) bool {
	mr := r.find(mailbox)
	return mr != nil && mr.Ignore
}

// GraceBytes returns the grace in bytes for the byte limit storage.
func (r *Rules) GraceBytes(storage int64) int64 {
	if r.Grace.Percent != 0 {
		return storage * r.Grace.Percent / 100
	}
	return r.Grace.Bytes
}

// find returns the first mailbox rule whose mask matches mailbox.
func (r *Rules) find(mailbox string) *MailboxRule {
	for i := range r.Mailboxes {
		if wildcardMatch(mailbox, r.Mailboxes[i].Mask) {
			return &r.Mailboxes[i]
		}
	}
	return nil
}

// wildcardMatch matches s against mask, where * is any run of characters
// and ? any one, as Dovecot's wildcard_match.
func wildcardMatch(s, mask string) bool {
	for len(mask) > 0 {
		switch mask[0] {
		case '*':
			for len(mask) > 0 && mask[0] == '*' {
				mask = mask[1:]
			}
			if mask == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if wildcardMatch(s[i:], mask) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != mask[0] {
				return false
			}
		}
		s, mask = s[1:], mask[1:]
	}
	return s == ""
}

// Parse builds rules from quota_rule values (in the order quota_rule,
// quota_rule2, ...) and a quota_grace value ("" means DefaultGrace).
func Parse(rules []string, grace string) (*Rules, error) {
	r := new(Rules)
	for _, def := range rules {
		if err := r.add(def); err != nil {
			return nil, fmt.Errorf("quota rule %q: %w", def, err)
		}
	}
	if grace == "" {
		grace = DefaultGrace
	}
	g, err := ParseGrace(grace)
	if err != nil {
		return nil, fmt.Errorf("quota grace %q: %w", grace, err)
	}
	r.Grace = g
	return r, nil
}

// add adds one rule definition, "<mask>:<limits>".
func (r *Rules) add(def string) error {
	mask, limits, ok := strings.Cut(def, ":")
	if !ok {
		return errors.New("no ':' after the mailbox mask")
	}
	isDefault := mask == "*" || mask == "?"
	if mask == "*" {
		r.Force = true
	}
	if limits == "ignore" {
		if isDefault {
			return errors.New("the default rule cannot be ignore")
		}
		r.mailboxRule(mask).Ignore = true
		return nil
	}
	if v, ok := strings.CutPrefix(limits, "backend="); ok {
		l, ok := maildirsize.ParseLimits(v)
		if !ok {
			return errors.New("invalid Maildir++ quota rule")
		}
		if isDefault {
			r.Storage, r.Messages = l.Bytes, l.Count
		} else {
			mr := r.mailboxRule(mask)
			mr.Storage, mr.Messages = l.Bytes, l.Count
		}
		return nil
	}
	if isDefault {
		return r.addDefault(limits)
	}
	return r.mailboxRule(mask).add(limits)
}

// mailboxRule returns the rule of mask, added when there is none yet.
func (r *Rules) mailboxRule(mask string) *MailboxRule {
	if strings.EqualFold(mask, "INBOX") {
		mask = "INBOX"
	}
	for i := range r.Mailboxes {
		if r.Mailboxes[i].Mask == mask {
			return &r.Mailboxes[i]
		}
	}
	r.Mailboxes = append(r.Mailboxes, MailboxRule{Mask: mask})
	return &r.Mailboxes[len(r.Mailboxes)-1]
}

// addDefault sets the default rule's limits from "key=value[:...]".
func (r *Rules) addDefault(limits string) error {
	for item := range strings.SplitSeq(limits, ":") {
		key, n, percent, err := parseLimit(item)
		if err != nil {
			return err
		}
		if percent {
			return errors.New("the default rule cannot be a percentage")
		}
		if n < 0 {
			return errors.New("the default rule's limits cannot be negative")
		}
		if key == "messages" {
			r.Messages = n
		} else {
			r.Storage = n
		}
	}
	return nil
}

// add sets a mailbox rule's limits from "key=[+-]value[:...]".
func (mr *MailboxRule) add(limits string) error {
	for item := range strings.SplitSeq(limits, ":") {
		key, n, percent, err := parseLimit(item)
		if err != nil {
			return err
		}
		switch {
		case key == "messages" && percent:
			mr.MessagesPercent = n
		case key == "messages":
			mr.Messages = n
		case percent:
			mr.StoragePercent = n
		default:
			mr.Storage = n
		}
	}
	return nil
}

// units are the multipliers of the unit suffixes.
var units = map[byte]int64{'B': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}

// parseLimit parses "storage=", "bytes=" or "messages=" and a value with an
// optional sign and unit, and returns "storage" or "messages" with the
// value in bytes or messages (or a percentage).
func parseLimit(item string) (key string, n int64, percent bool, err error) {
	key, value, _ := strings.Cut(item, "=")
	mult := int64(1)
	switch key {
	case "storage":
		mult = 1 << 10
	case "bytes":
		key = "storage"
	case "messages":
	default:
		return "", 0, false, fmt.Errorf("unknown limit %q", key)
	}
	value = strings.TrimPrefix(value, "+")
	digits := strings.TrimRight(value, "BbKkMmGgTt%")
	if len(value)-len(digits) > 1 {
		return "", 0, false, fmt.Errorf("invalid value %q", value)
	}
	n, err = strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false, fmt.Errorf("invalid value %q", value)
	}
	if u := strings.ToUpper(value[len(digits):]); u == "%" {
		if n <= -100 {
			return "", 0, false, fmt.Errorf("invalid percentage %q", value)
		}
		return key, n, true, nil
	} else if u != "" {
		mult = units[u[0]]
	}
	if n > (1<<63-1)/mult || n < -(1<<63-1)/mult {
		return "", 0, false, fmt.Errorf("value %q is too large", value)
	}
	return key, n * mult, false, nil
}

// ParseGrace parses a quota_grace value: bytes with an optional unit, or a
// percentage of the byte limit.
func ParseGrace(s string) (Grace, error) {
	digits := strings.TrimRight(s, "BbKkMmGgTt%")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || len(s)-len(digits) > 1 {
		return Grace{}, fmt.Errorf("invalid value %q", s)
	}
	switch u := strings.ToUpper(s[len(digits):]); u {
	case "%":
		return Grace{Percent: n}, nil
	case "":
		return Grace{Bytes: n}, nil
	default:
		if n > (1<<63-1)/units[u[0]] {
			return Grace{}, fmt.Errorf("value %q is too large", s)
		}
		return Grace{Bytes: n * units[u[0]]}, nil
	}
}

// FromFields builds a user's rules from the configuration's quota_rule
// values (base: quota_rule, quota_rule2, ...) and quota_grace, overridden by
// the user's extra fields of the same names, with or without the "userdb_"
// prefix, as Dovecot's userdb fields override its plugin settings: the
// user's "quota_rule2" replaces the configuration's second rule and keeps
// the others. The rules are read in order from quota_rule, quota_rule2, ...
// up to the first number missing. FromFields returns nil when there is no
// rule at all: the user has no quota, and maildirsize is left alone.
func FromFields(base []string, grace string, fields map[string]string) (*Rules, error) {
	settings := make(map[string]string, len(base)+1)
	for i, def := range base {
		settings[ruleKey(i)] = def
	}
	if grace != "" {
		settings["quota_grace"] = grace
	}
	user := maps.Clone(fields)
	for k, v := range fields {
		if plain, ok := strings.CutPrefix(k, "userdb_"); ok {
			user[plain] = v
		}
	}
	for k, v := range user {
		if k == "quota_grace" || strings.HasPrefix(k, "quota_rule") {
			settings[k] = v
		}
	}
	var defs []string
	for i := 0; ; i++ {
		def, ok := settings[ruleKey(i)]
		if !ok || def == "" {
			break
		}
		defs = append(defs, def)
	}
	if len(defs) == 0 {
		return nil, nil
	}
	return Parse(defs, settings["quota_grace"])
}

// ruleKey returns the setting name of the i-th rule (0-based).
func ruleKey(i int) string {
	if i == 0 {
		return "quota_rule"
	}
	return "quota_rule" + strconv.Itoa(i+1)
}
