package interop

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// postfixMainCf is the test's main.cf: contrib/postfix/main.cf-virtual
// plus what a private instance needs (its own queue, data directory and
// log file, loopback only, no local delivery).
const postfixMainCf = `# written by the interop tests of maildir-imapd
compatibility_level = 3.6
queue_directory = {{dir}}/queue
data_directory = {{dir}}/data
maillog_file = {{dir}}/maillog
maillog_file_prefixes = {{dir}}
myhostname = mx.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_mailbox_base = {{dir}}/vmail
virtual_mailbox_maps = texthash:{{dir}}/conf/vmailbox
virtual_uid_maps = static:{{uid}}
virtual_gid_maps = static:{{gid}}
`

// postfixMasterCf runs every service unchrooted (the queue is in a
// temporary directory without the chroot's copies of /etc files) with
// smtpd on one loopback port and postlogd writing maillog_file.
const postfixMasterCf = `# written by the interop tests of maildir-imapd
{{addr}} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
virtual   unix  - n n -    - virtual
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// postfix is a private Postfix instance.
type postfix struct {
	bin     string
	confDir string
	dir     string
	Addr    string // smtpd
}

// runPostfix runs `postfix -c confDir <verb>` with a deadline.
func (p *postfix) run(verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.bin, "-c", p.confDir, verb).CombinedOutput()
	if err != nil {
		return fmt.Errorf("postfix %s: %w\n%s", verb, err, out)
	}
	return nil
}

// Log returns Postfix's maillog_file.
func (p *postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// startPostfix configures and starts a Postfix that delivers mail for
// alice@example.test into vmail/example.test/alice/Maildir/ as the mail
// owner. It is stopped at cleanup.
func startPostfix(t *testing.T, o mailOwner, dir string) *postfix {
	t.Helper()
	return startPostfixWith(t, o, dir, "", "", "alice@example.test example.test/alice/Maildir/\n")
}

// startPostfixWith is startPostfix with main.cf lines appended (they
// override the ones before), master.cf services added and the given
// virtual_mailbox_maps table.
func startPostfixWith(t *testing.T, o mailOwner, dir, mainCf, masterCf, vmailbox string) *postfix {
	t.Helper()
	p := &postfix{bin: requireTool(t, "postfix", "postfix"), dir: dir, confDir: filepath.Join(dir, "conf")}
	requireFile(t, "/usr/lib/postfix/sbin/virtual", "postfix")
	// postfix's master(8) must be started as root.
	requireRoot(t)
	p.Addr = freeAddr(t)
	for _, d := range []string{"conf", "queue", "data", "vmail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// data_directory belongs to mail_owner; the virtual mailbox base to
	// the owner of the mailboxes (virtual(8) creates directories there).
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown postfix data directory (is the postfix user missing? run .ci/run): %v\n%s", err, out)
	}
	o.chown(t, filepath.Join(dir, "vmail"))
	r := strings.NewReplacer("{{dir}}", dir, "{{addr}}", p.Addr,
		"{{uid}}", fmt.Sprint(o.uid), "{{gid}}", fmt.Sprint(o.gid))
	writeFile(t, filepath.Join(p.confDir, "main.cf"), r.Replace(postfixMainCf)+mainCf)
	writeFile(t, filepath.Join(p.confDir, "master.cf"), r.Replace(postfixMasterCf)+masterCf)
	// Trailing slash: Maildir delivery (without it, mbox).
	writeFile(t, filepath.Join(p.confDir, "vmailbox"), vmailbox)

	if err := p.run("start"); err != nil {
		t.Fatalf("%v\nmaillog:\n%s", err, p.Log())
	}
	t.Cleanup(func() {
		if err := p.run("stop"); err != nil {
			t.Errorf("%v", err)
		}
		if t.Failed() {
			t.Logf("postfix maillog:\n%s", p.Log())
		}
	})
	if err := waitPort(p.Addr, nil); err != nil {
		t.Fatalf("postfix smtpd: %v\nmaillog:\n%s", err, p.Log())
	}
	return p
}

// sendSMTP sends msg from bob@example.org to alice@example.test and
// returns when the DATA command's 250 reply arrived.
func sendSMTP(addr, msg string) (time.Time, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		return time.Time{}, err
	}
	if err := c.Mail("bob@example.org"); err != nil {
		return time.Time{}, err
	}
	if err := c.Rcpt("alice@example.test"); err != nil {
		return time.Time{}, err
	}
	w, err := c.Data()
	if err != nil {
		return time.Time{}, err
	}
	if _, err := w.Write([]byte(crlf(msg))); err != nil {
		return time.Time{}, err
	}
	if err := w.Close(); err != nil { // reads the 250 reply to end-of-data
		return time.Time{}, err
	}
	queued := time.Now()
	return queued, c.Quit()
}

// TestPostfix_virtualIdle: Postfix's virtual(8) delivers over SMTP into a
// virtual Maildir that maildir-imapd serves; an IDLE client gets EXISTS
// for each message, and the latency from the DATA command's 250 reply to
// the EXISTS is printed.
func TestPostfix_virtualIdle(t *testing.T) {
	o := owner(t)
	dir := sharedDir(t)
	maildir := filepath.Join(dir, "vmail", "example.test", "alice", "Maildir")
	pf := startPostfix(t, o, dir)
	for _, d := range []string{"example.test", "example.test/alice"} {
		p := filepath.Join(dir, "vmail", d)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		o.chown(t, p)
	}
	o.mkMaildir(t, maildir)

	users := filepath.Join(dir, "users")
	writeFile(t, users, fmt.Sprintf("alice@example.test:{PLAIN}%s::::::\n", testPass))
	mi := startImapdArgs(t, o, []string{"serve", "--listen", "127.0.0.1:0", "--users", users,
		"--mail-location", "maildir:" + filepath.Join(dir, "vmail") + "/%d/%n/Maildir", "--log-level", "debug"})

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
	t.Cleanup(func() { logout(t, c) })
	if err := c.Login("alice@example.test", testPass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 0 {
		t.Fatalf("SELECT INBOX: %v, %d messages, want 0", err, sel.NumMessages)
	}

	const messages = 3
	for i := 1; i <= messages; i++ {
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("IDLE: %v", err)
		}
		queued, err := sendSMTP(pf.Addr, testMessage(fmt.Sprintf("smtp-%d", i)))
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

	// The body as Postfix stored it, with its Delivered-To and Received.
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH 1 BODY.PEEK[]: %v, %d messages", err, len(msgs))
	}
	body := string(msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	for _, want := range []string{"Delivered-To: alice@example.test\r\n", keyHeader + ": smtp-1\r\n", "\r\n\r\nbody of smtp-1\r\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("message 1 lacks %q:\n%s", want, body)
		}
	}
	entries, err := os.ReadDir(filepath.Join(maildir, "new"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadDir(filepath.Join(maildir, "cur"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries) + len(cur); n != messages {
		t.Errorf("%d files in new/ and cur/, want %d", n, messages)
	}
	logout(t, c)
	mi.Stop(t)
	mi.CheckLog(t)
}

// existsAt is an untagged EXISTS and when the client parsed it.
type existsAt struct {
	n  uint32
	at time.Time
}

// waitExists waits for the untagged EXISTS announcing n messages and
// prints the latency since the SMTP 250 reply at queued.
func waitExists(t *testing.T, exists <-chan existsAt, n uint32, queued time.Time, pf *postfix) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case e := <-exists:
			if e.n < n {
				continue
			}
			if e.n > n {
				t.Fatalf("* %d EXISTS, want %d", e.n, n)
			}
			lat := e.at.Sub(queued)
			msg := fmt.Sprintf("interop: SMTP 250 after DATA -> IDLE * %d EXISTS: %v", n, lat.Round(10*time.Microsecond))
			t.Log(msg)
			fmt.Println(msg)
			return
		case <-timeout:
			t.Fatalf("no * %d EXISTS within %v after the SMTP 250\nmaillog:\n%s", n, deadline, pf.Log())
		}
	}
}
