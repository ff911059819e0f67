package courier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// SubscribedName is Courier-IMAP's subscriptions file in the Maildir root.
const SubscribedName = "courierimapsubscribed"

// courierPrefix is Courier-IMAP's personal namespace prefix.
const courierPrefix = "INBOX."

// ReadSubscribed returns the mailboxes subscribed in root/courierimapsubscribed
// (full Courier names, one per line, UTF-8 in Courier-IMAP 5), in file order
// without duplicates, with Courier's "INBOX." prefix replaced by prefix, the
// namespace prefix of the server: "INBOX." keeps the names, "" strips it.
// INBOX itself (any case) stays "INBOX". Names outside Courier's personal
// namespace (the shared "#shared." and "shared." ones) are dropped. A missing
// file gives an error wrapping [os.ErrNotExist].
func ReadSubscribed(root string, prefix string) ([]string, error) {
	lines, err := readLines(filepath.Join(root, SubscribedName))
	if err != nil {
		return nil, fmt.Errorf("courier: read subscriptions: %w", err)
	}
	var names []string
	seen := make(map[string]bool)
	for _, line := range lines {
		name, ok := personalName(line)
		if !ok {
			continue
		}
		if name != "INBOX" {
			name = prefix + name
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, nil
}

// personalName strips Courier's "INBOX." from a subscribed name: "INBOX"
// for INBOX itself, the rest for its children, ok=false for names outside
// the personal namespace or empty ones.
func personalName(line string) (string, bool) {
	if line == "" {
		return "", false
	}
	if strings.EqualFold(line, "INBOX") {
		return "INBOX", true
	}
	if len(line) > len(courierPrefix) && strings.EqualFold(line[:len(courierPrefix)], courierPrefix) {
		return line[len(courierPrefix):], true
	}
	return "", false
}

// ConvertSubscriptions writes Dovecot's root/subscriptions from
// root/courierimapsubscribed when the root has the latter and not the
// former, and reports whether it did. The names are stored as Dovecot (and
// the backend) stores them, without the namespace prefix: Courier's
// "INBOX.Work.Clients" becomes "Work.Clients" whatever the server's prefix,
// INBOX stays INBOX, and subscriptions of folders that do not exist are
// kept. Courier's file is left alone. Callers in one process should
// serialise it with their own subscription changes; the write itself takes
// subscriptions.lock.
func ConvertSubscriptions(root string) (converted bool, err error) {
	if _, err := os.Stat(filepath.Join(root, dovecot.SubscriptionsName)); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("courier: convert subscriptions: %w", err)
	}
	names, err := ReadSubscribed(root, "")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := dovecot.WriteSubscriptions(root, names); err != nil {
		return false, fmt.Errorf("courier: convert subscriptions: %w", err)
	}
	return true, nil
}
