package dovecot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"

	"github.com/maildir-imapd/maildir-imapd/internal/mutf7"
)

// SubscriptionsName is the subscriptions file in the mail root.
const SubscriptionsName = "subscriptions"

// Subscription lock timings (Dovecot subscription-file.c): wait 120 s,
// stale after 30 s.
const (
	subscriptionsLockTimeout = 120 * time.Second
	subscriptionsLockStale   = 30 * time.Second
)

// ReadSubscriptions returns the mailbox names subscribed in root/subscriptions,
// in file order without duplicates, in UTF-8 with '.' as the hierarchy
// separator ("Work.Clients", "Entwürfe"); "inbox" in any case reads as
// "INBOX". Version 2 files ("V\t2" header) have levels joined by TAB and
// \001-escaped; version 1 files have one name per line. A level that is not
// valid modified UTF-7 is returned as stored. A missing file gives no names
// and no error. Entries for folders that no longer exist are kept.
func ReadSubscriptions(root string) ([]string, error) {
	f, err := safefile.Open(filepath.Join(root, SubscriptionsName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dovecot: read subscriptions: %w", err)
	}
	defer f.Close()
	var names []string
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	version, first := 1, true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if v, ok := strings.CutPrefix(line, "V\t"); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 2 {
					return nil, fmt.Errorf("dovecot: %s: unsupported version %q", f.Name(), v)
				}
				version = n
				continue
			}
		}
		if line == "" {
			continue
		}
		var levels []string
		if version == 2 {
			levels = strings.Split(line, "\t")
			for i, l := range levels {
				levels[i] = tabUnescape(l)
			}
		} else {
			levels = []string{line}
		}
		for i, l := range levels {
			if d, err := mutf7.Decode(l); err == nil {
				levels[i] = d
			}
		}
		name := strings.Join(levels, ".")
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dovecot: read %s: %w", f.Name(), err)
	}
	return names, nil
}

// WriteSubscriptions replaces root/subscriptions with names (UTF-8, '.'
// separating levels) in version 2 format: "V\t2\n\n", then one line per
// name with its levels modified-UTF-7 encoded, \001-escaped and joined by
// TAB. Empty and duplicate names are dropped; "inbox" is stored as "INBOX".
// Like Dovecot, the file is written into the dotlock subscriptions.lock
// (wait 120 s, stale 30 s) and renamed over the old file.
func WriteSubscriptions(root string, names []string) error {
	var b strings.Builder
	b.WriteString("V\t2\n\n")
	seen := make(map[string]bool)
	for _, name := range names {
		if name == "" {
			continue
		}
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		for i, level := range strings.Split(name, ".") {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(tabEscape(mutf7.Encode(level)))
		}
		b.WriteByte('\n')
	}
	dst := filepath.Join(root, SubscriptionsName)
	lock, err := Dotlock(dst+".lock", &DotlockOptions{
		Timeout: subscriptionsLockTimeout,
		Stale:   subscriptionsLockStale,
		replace: true,
	})
	if err != nil {
		return err
	}
	return lock.replaceTarget(dst, []byte(b.String()), nil)
}

// tabEscape escapes \001, TAB, CR and LF as Dovecot's str_tabescape does.
func tabEscape(s string) string {
	if !strings.ContainsAny(s, "\x01\t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\x01':
			b.WriteString("\x011")
		case '\t':
			b.WriteString("\x01t")
		case '\r':
			b.WriteString("\x01r")
		case '\n':
			b.WriteString("\x01n")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// tabUnescape reverses tabEscape; "\0010" is NUL, unknown escapes keep the
// escaped character, a trailing \001 is dropped.
func tabUnescape(s string) string {
	if !strings.Contains(s, "\x01") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\x01' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case '1':
			b.WriteByte('\x01')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
