package interop

import (
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// postfixLMTPMainCf routes the virtual domain to maildir-imapd's LMTP, as
// contrib/postfix/main.cf-lmtp does; {{lmtp}} is the Postfix address of
// the LMTP service. Nothing leaves the machine: other domains fail.
const postfixLMTPMainCf = `virtual_transport = lmtp:{{lmtp}}
default_transport = error:no mail leaves the interop tests
`

// postfixPipeMainCf and postfixPipeMasterCf route the virtual domain to
// `maildir-imapd deliver` run by pipe(8), as contrib/postfix/main.cf-lda
// shows: user, binary, users file and mail location are filled in.
const (
	postfixPipeMainCf = `virtual_transport = mdeliver
mdeliver_destination_recipient_limit = 1
default_transport = error:no mail leaves the interop tests
`
	postfixPipeMasterCf = `mdeliver unix - n n - - pipe flags=DRhu user=%s argv=%s deliver --users %s --mail-location %s -f ${sender} -d ${recipient}
`
)

// sendSMTPTo sends msg from from to rcpts and returns when the reply to
// the end of data arrived.
func sendSMTPTo(addr, from string, rcpts []string, msg string) (time.Time, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		return time.Time{}, err
	}
	if err := c.Mail(from); err != nil {
		return time.Time{}, err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return time.Time{}, fmt.Errorf("RCPT %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return time.Time{}, err
	}
	if _, err := w.Write([]byte(crlf(msg))); err != nil {
		return time.Time{}, err
	}
	if err := w.Close(); err != nil {
		return time.Time{}, err
	}
	queued := time.Now()
	return queued, c.Quit()
}

// TestPostfix_lmtp: Postfix delivers over LMTP into maildir-imapd, on a
// unix socket and on loopback TCP, and through `maildir-imapd deliver` as
// a pipe(8) transport (Dovecot's LDA set-up for virtual users). An IDLE client sees each message (the
// latency from the SMTP end-of-data reply to EXISTS is printed), and a
// recipient Postfix accepts but the users file lacks is refused with 550
// by the LMTP server while the other recipient of the same message is
// delivered; the sender gets Postfix's bounce for it, through LMTP too.
func TestPostfix_lmtp(t *testing.T) {
	for _, mode := range []string{"unix", "tcp", "deliver"} {
		t.Run(mode, func(t *testing.T) { testPostfixLMTP(t, mode) })
	}
}

func testPostfixLMTP(t *testing.T, mode string) {
	o := owner(t)
	dir := sharedDir(t)
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	o.chown(t, run)
	vmail := filepath.Join(dir, "vmail")
	users := filepath.Join(dir, "users")
	location := "maildir:" + vmail + "/%d/%n/Maildir"
	listen, pfAddr := filepath.Join(run, "lmtp"), "unix:"+filepath.Join(run, "lmtp")
	mainCf, masterCf := postfixLMTPMainCf, ""
	switch mode {
	case "tcp":
		listen = freeAddr(t)
		pfAddr = "inet:" + listen
	case "deliver":
		mainCf = postfixPipeMainCf
		masterCf = fmt.Sprintf(postfixPipeMasterCf, o.name, binary, users, location)
	}
	// Postfix accepts carol; maildir-imapd does not know her.
	pf := startPostfixWith(t, o, dir, strings.ReplaceAll(mainCf, "{{lmtp}}", pfAddr), masterCf,
		"alice@example.test x\nbob@example.test x\ncarol@example.test x\n")
	for _, d := range []string{"", "example.test"} {
		p := filepath.Join(vmail, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		o.chown(t, p)
	}
	writeFile(t, users, fmt.Sprintf("alice@example.test:{PLAIN}%s::::::\nbob@example.test:{PLAIN}%s::::::\n", testPass, testPass))
	args := []string{"serve", "--listen", "127.0.0.1:0", "--users", users, "--mail-location", location, "--log-level", "debug"}
	if mode != "deliver" {
		args = append(args, "--lmtp-listen", listen)
	}
	mi := startImapdArgs(t, o, args)
	if mode == "tcp" {
		if err := waitPort(listen, nil); err != nil {
			t.Fatal(err)
		}
	}

	exists := make(chan existsAt, 16)
	c, err := imapclient.DialInsecure(mi.Addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- existsAt{n: *d.NumMessages, at: time.Now()}
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Close, not LOGOUT: a test that fails during IDLE would wait forever.
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice@example.test", testPass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}

	const messages = 3
	for i := 1; i <= messages; i++ {
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("IDLE: %v", err)
		}
		rcpts := []string{"alice@example.test"}
		if i == 1 {
			rcpts = append(rcpts, "carol@example.test")
		}
		queued, err := sendSMTPTo(pf.Addr, "bob@example.test", rcpts, testMessage(fmt.Sprintf("lmtp-%d", i)))
		if err != nil {
			t.Fatalf("SMTP: %v\nmaillog:\n%s", err, pf.Log())
		}
		waitExists(t, exists, uint32(i), queued, pf)
		if err := idle.Close(); err != nil {
			t.Fatalf("DONE: %v", err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatalf("IDLE: %v", err)
		}
	}

	// carol: refused by maildir-imapd with 550, bounced by Postfix to bob,
	// whose Maildir gets the bounce over LMTP.
	bobNew := filepath.Join(vmail, "example.test", "bob", "Maildir", "new")
	bounce := waitFile(t, bobNew, pf)
	if !strings.Contains(bounce, "carol@example.test") || !strings.Contains(bounce, "5.1.1") {
		t.Errorf("bob's bounce does not report carol's 5.1.1:\n%s", bounce)
	}
	// LMTP: maildir-imapd's 550 5.1.1; deliver: its exit code 67 (EX_NOUSER).
	want := []string{"to=<carol@example.test>", "dsn=5.1.1", "status=bounced"}
	if mode != "deliver" {
		want = append(want, "550 5.1.1")
	}
	if !hasLine(pf.Log(), want...) {
		t.Errorf("Postfix did not bounce carol's copy with %q:\n%s", want, pf.Log())
	}
	if _, err := os.Stat(filepath.Join(vmail, "example.test", "carol")); err == nil {
		t.Errorf("carol, unknown to maildir-imapd, has a Maildir")
	}
	logout(t, c)
	mi.Stop(t)
	mi.CheckLog(t)
}

// waitFile waits for the first file in dir and returns its content.
func waitFile(t *testing.T, dir string, pf *postfix) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			b, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("nothing in %s within %v\nmaillog:\n%s", dir, deadline, pf.Log())
		}
	}
}

// hasLine reports whether one line of text contains every word.
func hasLine(text string, words ...string) bool {
lines:
	for _, line := range strings.Split(text, "\n") {
		for _, w := range words {
			if !strings.Contains(line, w) {
				continue lines
			}
		}
		return true
	}
	return false
}
