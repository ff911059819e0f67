package maildirbackend

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/maildirsize"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// quotaMaildir makes a Maildir with n messages in INBOX's cur/, each name
// carrying its size, and returns an accountQuota over it with a limit
// nothing reaches.
func quotaMaildir(b *testing.B, n int) *accountQuota {
	b.Helper()
	root := b.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1.host,S=%d,W=%d:2,S", 1700000000+i, i, 1000+i, 1020+i)
		if err := os.WriteFile(filepath.Join(root, "cur", name), nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	rules, err := quota.Parse([]string{"*:storage=1T", "*:messages=100000000"}, "")
	if err != nil {
		b.Fatal(err)
	}
	return newAccountQuota(namer{root: root}, root, func() *quota.Rules { return rules }, slog.Default())
}

// BenchmarkQuota_append is what the quota adds to each APPEND: read
// maildirsize, check, append a line; the file is recalculated each time it
// passes 5120 bytes (about every 600 appends), as Dovecot does, so a
// recalculation of the 10,000-message Maildir is amortised in the figure.
func BenchmarkQuota_append(b *testing.B) {
	q := quotaMaildir(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		done, err := q.reserve(inboxName, usage{Bytes: 1000, Count: 1}, false)
		if err != nil {
			b.Fatal(err)
		}
		done(true)
	}
}

// BenchmarkQuota_recalculate counts a Maildir of 10,000 messages (sizes
// from the names) and writes maildirsize.
func BenchmarkQuota_recalculate(b *testing.B) {
	q := quotaMaildir(b, 10000)
	dirs, err := q.dirs()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := maildirsize.Recalculate(q.path, maildirsize.Limits{Bytes: 1 << 40}, dirs); err != nil {
			b.Fatal(err)
		}
	}
}
