package interop

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Size of the concurrent scenario: each actor does this many operations.
const (
	concurrentOps     = 50
	concurrentInitial = 10 // messages delivered before the servers start
)

// keySet is a set of message keys safe for concurrent use.
type keySet struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (s *keySet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[string]bool)
	}
	s.keys[k] = true
}

func (s *keySet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[k]
}

// counters of what the actors did, for the log.
type counters struct {
	stores, expunges, deliveries, renames, unlinks, raced atomic.Int64
}

// flagPool is what the IMAP actors add and remove.
var flagPool = []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered, "$label1", "Project-X", imap.FlagJunk}

// isNo reports whether err is a tagged NO: acceptable when another actor
// removed the message a moment ago.
func isNo(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo
}

// imapActor does ops random operations through c (INBOX selected): 70 %
// +FLAGS/-FLAGS of one flag or keyword on a random message, 30 % \Deleted
// + UID EXPUNGE of a random message, whose key then counts as expunged
// once the server no longer has it.
func imapActor(c *imapclient.Client, rng *rand.Rand, ops int, gone *keySet, n *counters) error {
	for i := 0; i < ops; i++ {
		data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			return fmt.Errorf("UID SEARCH ALL: %w", err)
		}
		uids := data.AllUIDs()
		if len(uids) == 0 {
			continue
		}
		uid := uids[rng.IntN(len(uids))]
		set := imap.UIDSetNum(uid)
		if rng.IntN(10) < 7 {
			op := imap.StoreFlagsAdd
			if rng.IntN(2) == 0 {
				op = imap.StoreFlagsDel
			}
			flag := flagPool[rng.IntN(len(flagPool))]
			err := c.Store(set, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
			switch {
			case isNo(err):
				n.raced.Add(1)
			case err != nil:
				return fmt.Errorf("UID STORE %d %v: %w", uid, flag, err)
			}
			n.stores.Add(1)
			continue
		}
		msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{keySection}}).Collect()
		if err != nil && !isNo(err) {
			return fmt.Errorf("UID FETCH %d: %w", uid, err)
		}
		key := ""
		for _, m := range msgs { // skip unsolicited FETCHes of flag changes
			if hdr := m.FindBodySection(keySection); m.UID == uid && hdr != nil {
				if key, err = parseKey(hdr); err != nil {
					return fmt.Errorf("UID %d: %w", uid, err)
				}
			}
		}
		if key == "" {
			n.raced.Add(1) // expunged by another actor meanwhile
			continue
		}
		err = c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
		if err != nil && !isNo(err) {
			return fmt.Errorf("UID STORE %d +FLAGS (\\Deleted): %w", uid, err)
		}
		if err := c.UIDExpunge(set).Close(); err != nil && !isNo(err) {
			return fmt.Errorf("UID EXPUNGE %d: %w", uid, err)
		}
		left, err := c.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
		if err != nil && !isNo(err) {
			return fmt.Errorf("UID FETCH %d after EXPUNGE: %w", uid, err)
		}
		still := false
		for _, m := range left {
			still = still || m.UID == uid
		}
		if !still {
			gone.add(key)
			n.expunges.Add(1)
		} else {
			n.raced.Add(1) // another actor renamed it without T first
		}
	}
	return nil
}

// diskActor does ops random operations directly on the INBOX folder, as a
// MUA working on the Maildir would: 70 % toggle one of F, S, R in a
// message's info (moving new/ files to cur/), 30 % unlink a message.
func diskActor(dir string, m *mta, rng *rand.Rand, ops int, gone *keySet, n *counters) error {
	for i := 0; i < ops; i++ {
		msgs, _, err := scanFolder(dir)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			continue
		}
		bases := make([]string, 0, len(msgs))
		for b := range msgs {
			bases = append(bases, b)
		}
		sort.Strings(bases)
		msg := msgs[bases[rng.IntN(len(bases))]]
		if rng.IntN(10) < 7 {
			letter := string("FSR"[rng.IntN(3)])
			info := msg.info
			if strings.Contains(info, letter) {
				info = strings.ReplaceAll(info, letter, "")
			} else {
				info += letter
			}
			err = setInfo(dir, msg, info)
			n.renames.Add(1)
		} else {
			err = os.Remove(msg.path(dir))
			if err == nil {
				key, ok := m.key(msg.base)
				if !ok {
					return fmt.Errorf("unlinked %s, which the MTA never delivered", msg.name)
				}
				gone.add(key)
				n.unlinks.Add(1)
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			n.raced.Add(1) // a server renamed or removed it meanwhile
		case err != nil:
			return err
		}
		time.Sleep(2 * time.Millisecond) // pacing only
	}
	return nil
}

// mtaActor delivers ops messages into dir, keyed mta-1 … mta-ops.
func mtaActor(dir string, m *mta, ops int, n *counters) error {
	for i := 1; i <= ops; i++ {
		if _, err := m.deliver(dir, fmt.Sprintf("mta-%d", i)); err != nil {
			return err
		}
		n.deliveries.Add(1)
		time.Sleep(3 * time.Millisecond) // pacing only: spread over the run
	}
	return nil
}

// renderMessages renders a server's INBOX one line per message, failing on
// a duplicate UID or key.
func renderMessages(msgs []message) (byUID, byKey string, err error) {
	uids := make(map[imap.UID]bool)
	keys := make(map[string]bool)
	var u, k []string
	for _, m := range msgs {
		if uids[m.UID] || keys[m.Key] || m.Key == "" {
			return "", "", fmt.Errorf("duplicate or keyless message %v", m)
		}
		uids[m.UID], keys[m.Key] = true, true
		u = append(u, m.String())
		k = append(k, fmt.Sprintf("key=%s flags=%s", m.Key, strings.Join(m.Flags, " ")))
	}
	sort.Strings(k)
	return strings.Join(u, "\n"), strings.Join(k, "\n"), nil
}

// compareAll compares both servers' INBOX with each other, with the disk
// and with the expected keys. It returns "" when all agree.
func compareAll(dir string, m *mta, gone *keySet, dc, mi *imapclient.Client) (string, error) {
	var views []string
	for _, c := range []*imapclient.Client{dc, mi} {
		// A fresh SELECT makes each server sync with the disk.
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			return "", fmt.Errorf("SELECT INBOX: %w", err)
		}
		msgs, err := fetchAll(c)
		if err != nil {
			return "", err
		}
		if int(sel.NumMessages) != len(msgs) {
			data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
			if err != nil {
				return "", fmt.Errorf("UID SEARCH ALL: %w", err)
			}
			return fmt.Sprintf("SELECT INBOX says %d messages, UID FETCH 1:* returned %d; UID SEARCH ALL: %v",
				sel.NumMessages, len(msgs), data.AllUIDs()), nil
		}
		byUID, byKey, err := renderMessages(msgs)
		if err != nil {
			return err.Error(), nil
		}
		views = append(views, byUID, byKey)
	}
	disk, dups, err := scanFolder(dir)
	if err != nil {
		return "", err
	}
	if len(dups) > 0 {
		return strings.Join(dups, "\n"), nil
	}
	kw, err := readKeywords(dir)
	if err != nil {
		return "", err
	}
	var lines []string
	for base, msg := range disk {
		key, ok := m.key(base)
		if !ok {
			return fmt.Sprintf("file %s/%s was not delivered by the test", msg.sub, msg.name), nil
		}
		lines = append(lines, fmt.Sprintf("key=%s flags=%s", key, strings.Join(diskFlags(msg.info, kw), " ")))
	}
	sort.Strings(lines)
	diskView := strings.Join(lines, "\n")

	var problems []string
	if views[0] != views[2] {
		problems = append(problems, "dovecot (-) and maildir-imapd (+) disagree:\n"+diffLines(views[0], views[2]))
	}
	if views[1] != diskView {
		problems = append(problems, "dovecot (-) and the disk (+) disagree:\n"+diffLines(views[1], diskView))
	}
	if views[3] != diskView {
		problems = append(problems, "maildir-imapd (-) and the disk (+) disagree:\n"+diffLines(views[3], diskView))
	}
	m.mu.Lock()
	for base, key := range m.keys {
		if _, ok := disk[base]; !ok && !gone.has(key) {
			problems = append(problems, fmt.Sprintf("message %s (%s) lost: not on disk, never expunged", key, base))
		}
	}
	m.mu.Unlock()
	return strings.Join(problems, "\n"), nil
}

// TestConcurrent_bothServers runs Dovecot and maildir-imapd on one Maildir
// while an MTA delivers, an IMAP client of each server flags and expunges,
// and a disk actor renames and unlinks files, all at once. Once quiet, both
// servers must list the same messages with the same UIDs, flags and
// keywords, equal to what is on disk, with nothing lost.
func TestConcurrent_bothServers(t *testing.T) {
	a := newAccount(t)
	m := newMTA(a.owner)
	for i := 1; i <= concurrentInitial; i++ {
		if _, err := m.deliver(a.maildir, fmt.Sprintf("pre-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	dc := startDovecot(t, a)
	mi := startImapd(t, a)
	cd, cm := dial(t, dc.Addr, nil), dial(t, mi.Addr, nil)
	for _, c := range []*imapclient.Client{cd, cm} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatalf("SELECT INBOX: %v", err)
		}
	}

	var gone keySet
	var n counters
	actors := []func() error{
		func() error { return mtaActor(a.maildir, m, concurrentOps, &n) },
		func() error { return imapActor(cd, rand.New(rand.NewPCG(1, 1)), concurrentOps, &gone, &n) },
		func() error { return imapActor(cm, rand.New(rand.NewPCG(2, 2)), concurrentOps, &gone, &n) },
		func() error { return diskActor(a.maildir, m, rand.New(rand.NewPCG(3, 3)), concurrentOps, &gone, &n) },
	}
	names := []string{"mta", "dovecot client", "maildir-imapd client", "disk"}
	errc := make(chan error, len(actors))
	for i, f := range actors {
		go func() {
			if err := f(); err != nil {
				errc <- fmt.Errorf("%s: %w", names[i], err)
				return
			}
			errc <- nil
		}()
	}
	timeout := time.After(2 * deadline)
	for range actors {
		select {
		case err := <-errc:
			if err != nil {
				t.Error(err)
			}
		case <-timeout:
			t.Fatalf("actors did not finish within %v", 2*deadline)
		}
	}
	t.Logf("deliveries %d, IMAP stores %d, IMAP expunges %d, disk renames %d, disk unlinks %d, lost races %d",
		n.deliveries.Load(), n.stores.Load(), n.expunges.Load(), n.renames.Load(), n.unlinks.Load(), n.raced.Load())
	if t.Failed() {
		return
	}

	// Wait until quiet: poll the three views until they agree.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	stop := time.After(deadline)
	for {
		diff, err := compareAll(a.maildir, m, &gone, cd, cm)
		if err != nil {
			t.Fatal(err)
		}
		if diff == "" {
			break
		}
		select {
		case <-tick.C:
			continue
		case <-stop:
			t.Fatalf("no agreement within %v:\n%s\n%s\n%s", deadline, diff, dumpFolder(a.maildir), freshLook(t, a))
		}
	}
	logout(t, cd)
	logout(t, cm)
	dc.Stop(t)
	dc.CheckLog(t)
	mi.Stop(t)
	mi.CheckLog(t)
}

// dumpFolder renders a folder's files and control files for a failure
// report.
func dumpFolder(dir string) string {
	var b strings.Builder
	for _, sub := range []string{"new", "cur"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			fmt.Fprintf(&b, "%s/%s\n", sub, e.Name())
		}
	}
	for _, f := range []string{"dovecot-uidlist", "dovecot-keywords"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		fmt.Fprintf(&b, "--- %s (%v):\n%s", f, err, data)
	}
	return b.String()
}

// freshLook lists the INBOX through a second, freshly started maildir-imapd,
// to tell in-memory state of the first one from what is on disk.
func freshLook(t *testing.T, a *account) string {
	t.Helper()
	d := startImapd(t, a)
	c := dial(t, d.Addr, nil)
	defer logout(t, c)
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fmt.Sprintf("fresh maildir-imapd: EXAMINE INBOX: %v", err)
	}
	msgs, err := fetchAll(c)
	if err != nil {
		return fmt.Sprintf("fresh maildir-imapd: %v", err)
	}
	byUID, _, err := renderMessages(msgs)
	return fmt.Sprintf("a freshly started maildir-imapd lists (%v):\n%s", err, byUID)
}
