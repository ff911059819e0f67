package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alignStaleSort settles a SORT or THREAD answer on which the servers
// differ by asking a new Dovecot process: the imap binary on a copy of the
// Dovecot world's Maildir, with its indexes in memory, EXAMINE of the
// session's mailbox and the same command. When that fresh Dovecot answers
// as maildir-imapd did, the live Dovecot session answered from stale sort
// data (docs/differences.md, "SORT and THREAD in a long-lived Dovecot
// session", seed 2026 step 5154) and maildir-imapd's answer stands; any
// other answer leaves the difference to fail the test. It reports in the
// Dovecot world's transcript what it did.
func alignStaleSort(ws [2]*world, s step, res *[2][]string) {
	switch verbOf(s.Cmd) {
	case "SORT", "UID SORT", "THREAD", "UID THREAD":
	default:
		return
	}
	if slices.Equal(res[0], res[1]) || len(res[0]) == 0 || len(res[1]) == 0 ||
		res[0][len(res[0])-1] != "OK" || res[1][len(res[1])-1] != "OK" {
		return
	}
	w := ws[0]
	sess := w.sess[s.Sess]
	if sess.selected == "" {
		return
	}
	fresh, err := freshDovecotAnswer(w, sess, s.Cmd)
	if err != nil {
		w.log.add(fmt.Sprintf("fresh Dovecot for %s: %v", s.Cmd, err))
		return
	}
	fresh = append(fresh, "OK")
	w.log.add(fmt.Sprintf("fresh Dovecot on the same files: %q", fresh))
	if slices.Equal(fresh, res[1]) {
		res[0] = slices.Clone(res[1])
		return
	}
	// docs/differences.md, "a repeated SORT key": Dovecot moves a
	// repeated key's REVERSE onto the next key. The repeated key cannot
	// change the order (messages it compares are equal under its first
	// use), so the program without it must give the same answer.
	if dedup := dedupSortKeys(s.Cmd); dedup != s.Cmd {
		fresh, err := freshDovecotAnswer(w, sess, dedup)
		if err != nil {
			w.log.add(fmt.Sprintf("fresh Dovecot for %s: %v", dedup, err))
			return
		}
		fresh = append(fresh, "OK")
		w.log.add(fmt.Sprintf("fresh Dovecot, repeated sort keys dropped (%s): %q", dedup, fresh))
		if slices.Equal(fresh, res[1]) {
			res[0] = slices.Clone(res[1])
		}
	}
}

// dedupSortKeys returns a SORT command with every repeated sort key (and
// its REVERSE) dropped from its program; other commands as they are.
func dedupSortKeys(cmd string) string {
	open, end := strings.IndexByte(cmd, '('), strings.IndexByte(cmd, ')')
	if v := verbOf(cmd); (v != "SORT" && v != "UID SORT") || open < 0 || end < open {
		return cmd
	}
	seen := map[string]bool{}
	var keep []string
	reverse := false
	for _, tok := range strings.Fields(cmd[open+1 : end]) {
		u := strings.ToUpper(tok)
		if u == "REVERSE" {
			reverse = true
			continue
		}
		if !seen[u] {
			seen[u] = true
			if reverse {
				keep = append(keep, "REVERSE")
			}
			keep = append(keep, tok)
		}
		reverse = false
	}
	return cmd[:open+1] + strings.Join(keep, " ") + cmd[end:]
}

// freshDovecotAnswer runs cmd in a new Dovecot imap process (PREAUTH on
// stdin and stdout, as the mail owner) on a copy of w's Maildir, after
// EXAMINE of sess's mailbox, and returns its untagged data as absorb
// renders it. The copy keeps the live Dovecot's files out of reach.
func freshDovecotAnswer(w *world, sess *session, cmd string) ([]string, error) {
	home, err := os.MkdirTemp(filepath.Dir(w.acct.maildir), "fresh-dovecot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	maildir := filepath.Join(home, "Maildir")
	if out, err := exec.Command("cp", "-a", w.acct.maildir, maildir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy the Maildir: %v %s", err, out)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		return nil, err
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
	defer ours.Close()
	proc := exec.Command("/usr/lib/dovecot/imap",
		"-o", "mail_location=maildir:"+maildir+":INDEX=MEMORY", "-o", "first_valid_uid=1", "-o", "first_valid_gid=1")
	proc.Env = []string{"USER=" + w.acct.owner.name, "HOME=" + home, "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	proc.Stdin, proc.Stdout, proc.Stderr = theirs, theirs, &stderr
	proc.SysProcAttr = &syscall.SysProcAttr{Credential: w.acct.owner.credential()}
	if err := proc.Start(); err != nil {
		theirs.Close()
		return nil, err
	}
	theirs.Close()
	defer func() {
		ours.Close()
		done := make(chan struct{})
		go func() { proc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			proc.Process.Kill()
			<-done
		}
	}()
	c, err := net.FileConn(ours)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	wc := &wconn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	if _, err := wc.read(); err != nil { // * PREAUTH
		return nil, fmt.Errorf("greeting: %w", err)
	}
	rs, err := wc.cmd("EXAMINE " + sess.selected) // selected is quoted already
	if err != nil || rs[len(rs)-1].status != "OK" {
		return nil, fmt.Errorf("EXAMINE %s: %v %v (%s)", sess.selected, err, rs, stderr.String())
	}
	if got := len(sess.msgs); got != examineExists(rs) {
		return nil, fmt.Errorf("the session knows %d messages, the files hold %d", got, examineExists(rs))
	}
	rs, err = wc.cmd(cmd)
	if err != nil {
		return nil, err
	}
	scratch := &session{selected: sess.selected, readOnly: true}
	out := w.absorb(scratch, cmd, rs)
	return out[:len(out)-1], nil
}

// examineExists returns the EXISTS count of a SELECT or EXAMINE answer.
func examineExists(rs []resp) int {
	for _, r := range rs {
		if r.tag == "*" && len(r.vals) == 2 && r.vals[1].str() == "EXISTS" {
			var n int
			fmt.Sscan(r.vals[0].str(), &n)
			return n
		}
	}
	return -1
}

func TestDedupSortKeys(t *testing.T) {
	for in, want := range map[string]string{
		"SORT (DISPLAYFROM REVERSE DISPLAYFROM SUBJECT) UTF-8 ALL": "SORT (DISPLAYFROM SUBJECT) UTF-8 ALL",
		"UID SORT (REVERSE DATE date SIZE) UTF-8 ALL":              "UID SORT (REVERSE DATE SIZE) UTF-8 ALL",
		"SORT (FROM SUBJECT) UTF-8 ALL":                            "SORT (FROM SUBJECT) UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL":                              "THREAD REFERENCES UTF-8 ALL",
	} {
		if got := dedupSortKeys(in); got != want {
			t.Errorf("dedupSortKeys(%q) = %q, want %q", in, got, want)
		}
	}
}
