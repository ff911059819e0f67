package lmtp_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// TestLMTP_overQuota: a delivery that would exceed the Maildir++ quota
// (past the 10% grace) is refused with Dovecot's 552 5.2.2 reply, or 452
// 4.2.2 with QuotaFullTempfail, and leaves no file; one within the grace
// is accepted, and each is recorded in maildirsize.
func TestLMTP_overQuota(t *testing.T) {
	for _, tempfail := range []bool{false, true} {
		t.Run(fmt.Sprint("tempfail=", tempfail), func(t *testing.T) {
			rules, err := quota.Parse([]string{"*:bytes=1000"}, "")
			if err != nil {
				t.Fatal(err)
			}
			s, sock := setupWith(t, lmtp.Options{QuotaFullTempfail: tempfail},
				maildirbackend.Options{Quota: func(string) *quota.Rules { return rules }})
			body := "Subject: big\r\n\r\n" + strings.Repeat("x", 900) + "\r\n"
			// 1: fits. 2: 1000 + grace 100 is passed by the second.
			if _, _, err := send(t, sock, []string{"alice@example.org"}, body); err != nil {
				t.Fatalf("first delivery: %v", err)
			}
			size := readFile(t, filepath.Join(s.Maildir, "maildirsize"))
			_, _, err = send(t, sock, []string{"alice@example.org"}, body)
			wantCode, wantText := 552, "<alice@example.org> Quota exceeded (mailbox for user is full)"
			if tempfail {
				wantCode = 452
			}
			r := rcptError(err, "alice@example.org")
			if r == nil || r.Code != wantCode || r.Message != wantText {
				t.Errorf("second delivery: %v %+v, want %d %s", err, r, wantCode, wantText)
			}
			if got := readFile(t, filepath.Join(s.Maildir, "maildirsize")); got != size {
				t.Errorf("a refused delivery changed maildirsize: %q -> %q", size, got)
			}
			ents, _ := os.ReadDir(filepath.Join(s.Maildir, "new"))
			tmp, _ := os.ReadDir(filepath.Join(s.Maildir, "tmp"))
			if len(ents) != 1 || len(tmp) != 0 {
				t.Errorf("%d files in new/, %d in tmp/", len(ents), len(tmp))
			}
		})
	}
}

// TestLMTP_quotaGrace: a delivery that starts under the limit may pass it
// by the grace (Dovecot's quota_grace, 10% by default); IMAP's APPEND may
// not.
func TestLMTP_quotaGrace(t *testing.T) {
	rules, err := quota.Parse([]string{"*:bytes=1000"}, "")
	if err != nil {
		t.Fatal(err)
	}
	s, sock := setupWith(t, lmtp.Options{}, maildirbackend.Options{Quota: func(string) *quota.Rules { return rules }})
	// About 525 bytes each once stored with Return-Path and Delivered-To:
	// together past 1000, within 1100.
	first := "Subject: a\r\n\r\n" + strings.Repeat("x", 450) + "\r\n"
	second := "Subject: b\r\n\r\n" + strings.Repeat("y", 450) + "\r\n"
	for i, body := range []string{first, second} {
		if _, _, err := send(t, sock, []string{"alice@example.org"}, body); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	got := readFile(t, filepath.Join(s.Maildir, "maildirsize"))
	var total int64
	for _, l := range strings.Split(strings.TrimSpace(got), "\n")[1:] {
		var b, n int64
		fmt.Sscan(l, &b, &n)
		total += b
	}
	if total <= 1000 || total > 1100 {
		t.Errorf("maildirsize %q: want a total past the limit, within the grace", got)
	}
}

// rcptError returns the reply of rcpt in an LMTP DATA error.
func rcptError(err error, rcpt string) *smtp.SMTPError {
	var le smtp.LMTPDataError
	if errors.As(err, &le) {
		return le[rcpt]
	}
	return nil
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
