package interop

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// syncWait bounds how long the test waits for both servers' sessions to
// agree after a step: maildir-imapd learns of another program's change
// through inotify, asynchronously, where Dovecot rescans on NOOP
// (docs/differences.md, row "timing of untagged updates").
const syncWait = 3 * time.Second

// both runs f on both worlds at once and returns their errors.
func both(ws [2]*world, f func(w *world) error) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(w)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", ws[i].name, err)
		}
	}
	return nil
}

// modelLine renders what session s was told about its selected mailbox.
func (s *session) modelLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "byes=%d selected %q ro=%v n=%d flags=%s", s.byes, s.selected, s.readOnly, len(s.msgs), sysFlags(s.flags))
	for i, m := range s.msgs {
		fmt.Fprintf(&b, " %d:%s:%s", i+1, m.uid, m.flags)
	}
	return b.String()
}

// agrees reports whether two sessions' models agree where both were told.
func agrees(a, b *session) bool {
	if a.byes != b.byes || a.selected != b.selected || len(a.msgs) != len(b.msgs) || sysFlags(a.flags) != sysFlags(b.flags) {
		return false
	}
	for i, m := range a.msgs {
		o := b.msgs[i]
		if m.uid != "" && o.uid != "" && m.uid != o.uid {
			return false
		}
		if m.flags != "?" && o.flags != "?" && m.flags != o.flags {
			return false
		}
	}
	return true
}

// noopAll sends NOOP on every session and returns protocol violations.
func (w *world) noopAll() ([]string, error) {
	var viol []string
	for i, s := range w.sess {
		s.w.quiet = true
		rs, err := s.w.cmd("NOOP")
		s.w.quiet = false
		if err == errBye {
			if err := w.reconnectAfterBye(i, rs); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session %d NOOP: %w", i, err)
		}
		for _, l := range w.absorb(s, "NOOP", rs) {
			if strings.HasPrefix(l, "!") || strings.HasPrefix(l, "* BYE") {
				viol = append(viol, fmt.Sprintf("s%d NOOP: %s", i, l))
			}
		}
	}
	return viol, nil
}

// reconnectAfterBye logs the BYE that ended session i (rs, the answer it
// came in) and logs the session in again. Dovecot ends a session whose
// selected mailbox another session deleted or renamed
// (docs/differences.md, `delete-selected`); the session comes back
// unselected, with one more BYE counted.
func (w *world) reconnectAfterBye(i int, rs []resp) error {
	for _, r := range rs {
		if r.status == "BYE" {
			w.log.add(fmt.Sprintf("s%d S: %s", i, r.raw))
		}
	}
	ns, err := w.connect(i)
	if err != nil {
		return err
	}
	ns.byes = w.sess[i].byes + 1
	w.sess[i] = ns
	return nil
}

// errByeAtTruth: a session said BYE to the sync point's UID FETCH (Dovecot
// notices a mailbox renamed away under a session at the FETCH after the
// NOOPs: seed 2026, step 17,039, RENAME of the selected mailbox). The
// session is logged in again and the sync point starts over.
var errByeAtTruth = errors.New("BYE at the sync point's UID FETCH")

// truth fetches UID and FLAGS of every message on every selected session,
// checks them against what the session was told, and returns one line per
// session and the violations.
func (w *world) truth() (lines, viol []string, err error) {
	for i, s := range w.sess {
		if s.selected != "" {
			before := append([]msgModel(nil), s.msgs...)
			s.w.quiet = true
			rs, err := s.w.cmd("UID FETCH 1:* (UID FLAGS)")
			s.w.quiet = false
			if err == errBye {
				if err := w.reconnectAfterBye(i, rs); err != nil {
					return nil, nil, err
				}
				return nil, nil, errByeAtTruth
			}
			if err != nil {
				return nil, nil, fmt.Errorf("session %d UID FETCH: %w", i, err)
			}
			out := w.absorb(s, "UID FETCH", rs)
			if t := out[len(out)-1]; !strings.HasPrefix(t, "OK") {
				viol = append(viol, fmt.Sprintf("s%d UID FETCH 1:* in %q: %s", i, s.selected, t))
				s.selected, s.msgs = "", nil
			}
			for _, l := range out {
				if strings.HasPrefix(l, "!") {
					viol = append(viol, fmt.Sprintf("s%d: %s", i, l))
				}
			}
			if len(before) == len(s.msgs) {
				for j, m := range before {
					if m.flags != "?" && m.flags != s.msgs[j].flags {
						viol = append(viol, fmt.Sprintf("s%d: message %d (UID %s) was last told flags %s, has %s",
							i, j+1, s.msgs[j].uid, m.flags, s.msgs[j].flags))
					}
				}
			}
		}
		lines = append(lines, fmt.Sprintf("s%d %s", i, s.modelLine()))
	}
	return lines, viol, nil
}

// syncPoint brings both worlds to a comparable point: NOOP on every
// session until the two worlds' sessions agree (or syncWait passed), then
// UID FETCH 1:* (UID FLAGS) on each selected session. It returns a
// description of any difference or violation, "" when none.
func syncPoint(ws [2]*world) (string, error) {
	for attempt := 1; ; attempt++ {
		what, err := syncPointOnce(ws)
		if errors.Is(err, errByeAtTruth) && attempt < 3 {
			continue
		}
		return what, err
	}
}

// syncPointOnce is one attempt of syncPoint.
func syncPointOnce(ws [2]*world) (string, error) {
	end := time.Now().Add(syncWait)
	var viol [2][]string
	for {
		err := both(ws, func(w *world) error {
			v, err := w.noopAll()
			viol[w.index()] = append(viol[w.index()], v...)
			return err
		})
		if err != nil {
			return "", err
		}
		agree := true
		for i := range ws[0].sess {
			if d, m := ws[0].sess[i], ws[1].sess[i]; d.byes > m.byes && tolerate("delete-selected") {
				ns, err := ws[1].connect(i)
				if err != nil {
					return "", err
				}
				m.w.close()
				ns.byes = d.byes
				ws[1].sess[i] = ns
			}
			agree = agree && agrees(ws[0].sess[i], ws[1].sess[i])
		}
		if agree {
			break
		}
		if time.Now().After(end) {
			var b strings.Builder
			fmt.Fprintf(&b, "sessions disagree after NOOPs for %v:\n", syncWait)
			for i := range ws[0].sess {
				fmt.Fprintf(&b, "  dovecot       s%d %s\n  maildir-imapd s%d %s\n", i, ws[0].sess[i].modelLine(), i, ws[1].sess[i].modelLine())
			}
			return b.String(), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	var lines [2][]string
	err := both(ws, func(w *world) error {
		l, v, err := w.truth()
		lines[w.index()] = l
		viol[w.index()] = append(viol[w.index()], v...)
		return err
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if a, c := strings.Join(lines[0], "\n"), strings.Join(lines[1], "\n"); a != c {
		fmt.Fprintf(&b, "sessions' mailboxes differ (- dovecot, + maildir-imapd):\n%s", diffLines(a, c))
	}
	for i, v := range viol {
		for _, l := range v {
			fmt.Fprintf(&b, "%s violation: %s\n", ws[i].name, l)
		}
	}
	return b.String(), nil
}

// index is 0 for Dovecot, 1 for maildir-imapd.
func (w *world) index() int {
	if w.name == "dovecot" {
		return 0
	}
	return 1
}

// fullState reports the account as a new session sees it: LIST, LSUB,
// STATUS of every selectable mailbox and, per message, UID, flags, size,
// internal date and a hash of BODY[].
func (w *world) fullState() ([]string, error) {
	c, err := dialRaw(w.addr(), nil)
	if err != nil {
		return nil, err
	}
	defer c.close()
	s := &session{w: c}
	run := func(cmd string) ([]string, error) {
		rs, err := c.cmd(cmd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		out := w.absorb(s, cmd, rs)
		for i, l := range out {
			out[i] = hashLong(l)
		}
		return append([]string{"> " + cmd}, out...), nil
	}
	out, err := run(`LIST "" "*"`)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range out {
		if strings.HasPrefix(l, "LIST ") && !strings.Contains(l, `\noselect`) && !strings.Contains(l, `\nonexistent`) {
			q := l[strings.Index(l, `" "`)+2:]
			if name, err := strconv.Unquote(q); err == nil {
				names = append(names, name)
			}
		}
	}
	for _, cmd := range []string{`LSUB "" "*"`} {
		l, err := run(cmd)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	for _, n := range names {
		for _, cmd := range []string{
			fmt.Sprintf("STATUS %s (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)", quote(n)),
			"EXAMINE " + quote(n),
			"UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])",
		} {
			l, err := run(cmd)
			if err != nil {
				return nil, err
			}
			out = append(out, l...)
		}
	}
	return out, nil
}

// hashLong replaces the tail of a long line by its hash.
func hashLong(l string) string {
	if len(l) <= 160 || os.Getenv("MAILDIR_IMAPD_DIFF_NOHASH") != "" {
		return l
	}
	return fmt.Sprintf("%s… sha256:%x", l[:100], sha256.Sum256([]byte(l)))
}

// quote quotes an IMAP string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
