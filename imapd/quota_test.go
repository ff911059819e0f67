package imapd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// newQuotaServer serves a Maildir whose user has the quota rules given.
func newQuotaServer(t *testing.T, rules ...string) *maildirtest.Server {
	t.Helper()
	r, err := quota.Parse(rules, "")
	if err != nil {
		t.Fatal(err)
	}
	return maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd",
		Backend: maildirbackend.Options{Quota: func(string) *quota.Rules { return r }}})
}

// appendLine returns an APPEND of a message of n bytes on the wire (CRLF
// line endings; n-2 bytes once stored with LF).
func appendLine(mailbox string, n int) string {
	body := "Subject: q\r\n\r\n" + strings.Repeat("x", n-14)
	return fmt.Sprintf("APPEND %s {%d+}\r\n%s", mailbox, len(body), body)
}

func readSize(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "maildirsize"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestQuota_wire runs the sequence compared with Dovecot 2.3.19 (same
// rules, same commands; its answers are the wants here) and checks the
// maildirsize lines each step leaves.
func TestQuota_wire(t *testing.T) {
	srv := newQuotaServer(t, "*:storage=1k", "*:messages=3")
	c := dialRaw(t, srv)
	c.login()
	if caps := strings.Join(c.cmd("c", "CAPABILITY"), "\n"); !strings.Contains(caps, " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE") {
		t.Errorf("capabilities: %s", caps)
	}
	steps := []struct {
		cmd  string
		want []string
	}{
		{`GETQUOTAROOT INBOX`, []string{`* QUOTAROOT INBOX "User quota"`, `* QUOTA "User quota" (STORAGE 0 1 MESSAGE 0 3)`, "a OK"}},
		{appendLine("INBOX", 300), []string{"a OK [APPENDUID"}},
		{`GETQUOTA "User quota"`, []string{`* QUOTA "User quota" (STORAGE 1 1 MESSAGE 1 3)`, "a OK"}},
		{appendLine("INBOX", 900), []string{"a NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"}},
		{appendLine("INBOX", 600), []string{"a OK [APPENDUID"}},
		{`GETQUOTA "User quota"`, []string{`* QUOTA "User quota" (STORAGE 1 1 MESSAGE 2 3)`, "a OK"}},
		{`SETQUOTA "User quota" (STORAGE 10)`, []string{"a NO Quota can be changed only by admin"}},
		{`GETQUOTA ""`, []string{"a NO Quota root doesn't exist"}},
		{`GETQUOTAROOT nonexistent`, []string{`* QUOTAROOT nonexistent "User quota"`, `* QUOTA "User quota" (STORAGE 1 1 MESSAGE 2 3)`, "a OK"}},
		{`GETQUOTAROOT`, []string{"a BAD"}},
		{`SETQUOTA "User quota" (STORAGE)`, []string{"a BAD"}},
	}
	for _, s := range steps {
		got := c.cmd("a", s.cmd)
		if len(got) != len(s.want) {
			t.Fatalf("%.40q: got %q, want %q", s.cmd, got, s.want)
		}
		for i := range got {
			if !strings.HasPrefix(got[i], s.want[i]) {
				t.Errorf("%.40q: line %d is %q, want %q", s.cmd, i, got[i], s.want[i])
			}
		}
	}
	// As Dovecot wrote it for the same sequence: "1024S,3C\n0 0\n298 1\n598 1\n".
	if got := readSize(t, srv.Maildir); got != "1024S,3C\n0 0\n298 1\n598 1\n" {
		t.Errorf("maildirsize %q", got)
	}
}

// TestQuota_expungeCopyMove: EXPUNGE frees, COPY adds (and is refused over
// the limit), MOVE within the account changes nothing and is allowed even
// at the limit, STATUS DELETED-STORAGE counts what EXPUNGE would free.
func TestQuota_expungeCopyMove(t *testing.T) {
	srv := newQuotaServer(t, "*:storage=1k", "*:messages=3")
	c := dialRaw(t, srv)
	c.login()
	c.cmd("a", "CREATE Trash")
	for range 2 {
		if r := c.cmd("a", appendLine("INBOX", 300)); !strings.HasPrefix(last(r), "a OK") {
			t.Fatalf("append: %q", r)
		}
	}
	c.cmd("a", "SELECT INBOX")
	c.cmd("a", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	if r := c.cmd("a", "STATUS INBOX (DELETED DELETED-STORAGE)"); r[0] != "* STATUS INBOX (DELETED 1 DELETED-STORAGE 1)" {
		t.Errorf("status: %q", r)
	}
	c.cmd("a", "EXPUNGE")
	if got := readSize(t, srv.Maildir); !strings.HasSuffix(got, "-298 -1\n") {
		t.Errorf("after EXPUNGE: %q", got)
	}
	if r := c.cmd("a", "COPY 1 Trash"); !strings.HasPrefix(last(r), "a OK") {
		t.Fatalf("copy: %q", r)
	}
	if r := c.cmd("a", "COPY 1 Trash"); !strings.HasPrefix(last(r), "a OK") {
		t.Fatalf("copy: %q", r) // 3 messages, 894 bytes
	}
	if r := c.cmd("a", "COPY 1 Trash"); last(r) != "a NO [OVERQUOTA] Quota exceeded (mailbox for user is full)" {
		t.Errorf("copy over the message limit: %q", r)
	}
	before := readSize(t, srv.Maildir)
	if r := c.cmd("a", "MOVE 1 Trash"); !strings.HasPrefix(last(r), "a OK") {
		t.Errorf("move at the limit: %q", r)
	}
	if got := readSize(t, srv.Maildir); got != before {
		t.Errorf("MOVE changed maildirsize: %q -> %q", before, got)
	}
	if r := c.cmd("a", `GETQUOTAROOT Trash`); r[1] != `* QUOTA "User quota" (STORAGE 1 1 MESSAGE 3 3)` {
		t.Errorf("quota: %q", r)
	}
	c.cmd("a", "SELECT Trash")
	c.cmd("a", `STORE 1:* +FLAGS.SILENT (\Deleted)`)
	c.cmd("a", "CLOSE")
	c.cmd("a", "DELETE Trash")
	if r := c.cmd("a", `GETQUOTA "User quota"`); r[0] != `* QUOTA "User quota" (STORAGE 0 1 MESSAGE 0 3)` {
		t.Errorf("quota after emptying Trash: %q", r)
	}
}

// TestQuota_recalculated: a missing or stale maildirsize, or changes by
// other programs, are found by recalculation, as Maildir++ intends.
func TestQuota_recalculated(t *testing.T) {
	srv := newQuotaServer(t, "*:storage=10M", "Junk:ignore")
	root := srv.Maildir
	maildirtest.Deliver(t, root, maildirtest.Message("one"))
	c := dialRaw(t, srv)
	c.login()
	c.cmd("a", "CREATE Junk")
	maildirtest.Deliver(t, filepath.Join(root, ".Junk"), maildirtest.Message("spam"))
	r := c.cmd("a", `GETQUOTA "User quota"`)
	if r[0] != `* QUOTA "User quota" (STORAGE 1 10240)` {
		t.Errorf("first count: %q", r)
	}
	if got := readSize(t, root); !strings.HasPrefix(got, "10485760S\n") || strings.Count(got, "\n") != 2 {
		t.Errorf("maildirsize %q", got)
	}
	// Another program's limits in the file: rewritten with ours ("*").
	os.WriteFile(filepath.Join(root, "maildirsize"), []byte("5S\n0 0\n"), 0o600)
	c.cmd("a", `GETQUOTA "User quota"`)
	if got := readSize(t, root); !strings.HasPrefix(got, "10485760S\n") {
		t.Errorf("limits not rewritten: %q", got)
	}
	// A file larger than 5120 bytes is recalculated.
	big := "10485760S\n" + strings.Repeat("0 0\n", 2000)
	os.WriteFile(filepath.Join(root, "maildirsize"), []byte(big), 0o600)
	c.cmd("a", `GETQUOTA "User quota"`)
	if got := readSize(t, root); len(got) > 100 {
		t.Errorf("large file kept: %d bytes", len(got))
	}
}

// TestQuota_parallelAppends: many sessions appending at once near the
// limit never pass it, and maildirsize stays consistent with the disk.
func TestQuota_parallelAppends(t *testing.T) {
	srv := newQuotaServer(t, "*:storage=10k")
	const sessions, each = 6, 5
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for range sessions {
		c := dialRaw(t, srv)
		c.login()
		wg.Go(func() {
			for range each {
				r := c.cmd("a", appendLine("INBOX", 1002)) // 1000 bytes stored
				mu.Lock()
				if strings.HasPrefix(last(r), "a OK") {
					ok++
				} else if !strings.Contains(last(r), "[OVERQUOTA]") {
					t.Errorf("append: %q", r)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 10 {
		t.Errorf("%d appends of 1000 bytes stored under a limit of 10240", ok)
	}
	got := readSize(t, srv.Maildir)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	var sum int64
	for _, l := range lines[1:] {
		var b, n int64
		if _, err := fmt.Sscan(l, &b, &n); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		sum += b
	}
	if sum != 10*1000 {
		t.Errorf("maildirsize sums to %d bytes: %q", sum, got)
	}
	if n := countFiles(t, srv.Maildir); n != 10 {
		t.Errorf("%d messages on disk", n)
	}
}

func countFiles(t *testing.T, root string) int {
	t.Helper()
	var n int
	for _, d := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		n += len(ents)
	}
	return n
}

// TestQuota_noRules: a user without rules has no quota root, and a server
// without quotas does not offer the extension.
func TestQuota_noRules(t *testing.T) {
	srv := maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd",
		Backend: maildirbackend.Options{Quota: func(string) *quota.Rules { return nil }}})
	c := dialRaw(t, srv)
	c.login()
	if r := c.cmd("a", "GETQUOTAROOT INBOX"); r[0] != "* QUOTAROOT INBOX" || !strings.HasPrefix(r[1], "a OK") {
		t.Errorf("got %q", r)
	}
	if r := c.cmd("a", appendLine("INBOX", 300)); !strings.HasPrefix(last(r), "a OK") {
		t.Errorf("append: %q", r)
	}
	if _, err := os.Stat(filepath.Join(srv.Maildir, "maildirsize")); err == nil {
		t.Error("maildirsize written for a user without quota")
	}

	plain := newServer(t)
	p := dialRaw(t, plain)
	p.login()
	caps := p.cmd("c", "CAPABILITY")
	if slices.ContainsFunc(strings.Fields(caps[0]), func(s string) bool { return strings.HasPrefix(s, string(imap.CapQuota)) }) {
		t.Errorf("QUOTA offered without quotas: %q", caps[0])
	}
	if r := p.cmd("a", "GETQUOTAROOT INBOX"); !strings.HasPrefix(last(r), "a BAD") {
		t.Errorf("GETQUOTAROOT without quotas: %q", r)
	}
}

// BenchmarkQuota_appendWire measures APPEND of a 2 KB message over the
// wire (imapclient), without and with a quota (the maildirsize read,
// check and appended line, and a recalculation of the growing INBOX each
// time the file passes 5120 bytes).
func BenchmarkQuota_appendWire(b *testing.B) {
	msg := []byte("Subject: bench\r\n\r\n" + strings.Repeat("x", 2000) + "\r\n")
	for _, withQuota := range []bool{false, true} {
		b.Run(fmt.Sprint("quota=", withQuota), func(b *testing.B) {
			var opts maildirtest.Options
			opts.Frontend = "imapd"
			if withQuota {
				r, err := quota.Parse([]string{"*:storage=1T"}, "")
				if err != nil {
					b.Fatal(err)
				}
				opts.Backend.Quota = func(string) *quota.Rules { return r }
			}
			srv := maildirtest.NewServer(b, &opts)
			c := srv.Dial(b, nil)
			b.ReportAllocs()
			for b.Loop() {
				cmd := c.Append("INBOX", int64(len(msg)), nil)
				cmd.Write(msg)
				cmd.Close()
				if _, err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestQuota_fileLimits: under a "?" default rule the limits of an existing
// maildirsize win (Dovecot's non-forced rule), also when the file is
// recalculated; without a file the rule's limits are written.
func TestQuota_fileLimits(t *testing.T) {
	srv := newQuotaServer(t, "?:storage=1M")
	os.WriteFile(filepath.Join(srv.Maildir, "maildirsize"), []byte("5000S,7C\n0 0\n"), 0o600)
	c := dialRaw(t, srv)
	c.login()
	if r := c.cmd("a", `GETQUOTA "User quota"`); r[0] != `* QUOTA "User quota" (STORAGE 0 5 MESSAGE 0 7)` {
		t.Errorf("file limits: %q", r)
	}
	// A broken line makes it recalculated: the file's limits stay.
	os.WriteFile(filepath.Join(srv.Maildir, "maildirsize"), []byte("5000S,7C\n0 0\ngarbage\n"), 0o600)
	c.cmd("a", appendLine("INBOX", 300))
	if got := readSize(t, srv.Maildir); got != "5000S,7C\n0 0\n298 1\n" { // recalculated, then the line
		t.Errorf("after an APPEND: %q", got)
	}
	os.Remove(filepath.Join(srv.Maildir, "maildirsize"))
	if r := c.cmd("a", `GETQUOTA "User quota"`); r[0] != `* QUOTA "User quota" (STORAGE 1 1024)` {
		t.Errorf("rule limits: %q", r)
	}
	if got := readSize(t, srv.Maildir); got != "1048576S\n298 1\n" {
		t.Errorf("recalculated: %q", got)
	}
}
