package idle_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// clientModel is what a client knows of the mailbox, built only from the
// untagged responses it reads: UID per sequence number, 0 while unknown.
type clientModel struct {
	t    *testing.T
	name string
	uids []imap.UID
	seen int // lines observed
}

func (m *clientModel) observe(line string) {
	m.seen++
	m.t.Helper()
	var n uint32
	var uid imap.UID
	switch {
	case strings.HasSuffix(line, " EXPUNGE"):
		if _, err := fmt.Sscanf(line, "* %d EXPUNGE", &n); err != nil || n == 0 || int(n) > len(m.uids) {
			m.t.Errorf("%s: bad %q with %d messages", m.name, line, len(m.uids))
			return
		}
		m.uids = slices.Delete(m.uids, int(n-1), int(n))
	case strings.HasSuffix(line, " EXISTS"):
		if _, err := fmt.Sscanf(line, "* %d EXISTS", &n); err != nil || int(n) <= len(m.uids) {
			m.t.Errorf("%s: bad %q with %d messages", m.name, line, len(m.uids))
			return
		}
		m.uids = append(m.uids, make([]imap.UID, int(n)-len(m.uids))...)
	case strings.Contains(line, " FETCH "):
		if _, err := fmt.Sscanf(line, "* %d FETCH (UID %d", &n, &uid); err != nil || n == 0 || int(n) > len(m.uids) {
			m.t.Errorf("%s: bad %q with %d messages", m.name, line, len(m.uids))
			return
		}
		if known := m.uids[n-1]; known != 0 && known != uid {
			m.t.Errorf("%s: %q but seq %d is UID %d", m.name, line, n, known)
		}
		m.uids[n-1] = uid
	case strings.HasPrefix(line, "* FLAGS"):
	default:
		m.t.Errorf("%s: unexpected %q", m.name, line)
	}
}

// TestView_concurrentApply applies changes from many goroutines while clients
// poll with NOOP, FETCH and IDLE, then checks that every client's view equals
// the mailbox.
func TestView_concurrentApply(t *testing.T) {
	const (
		clients  = 4
		appliers = 8
		rounds   = 200
	)
	h := newHarness(t, uidRange(1, 100), nil)
	var next atomic.Uint32
	next.Store(100)

	cs := make([]*rawClient, clients)
	models := make([]*clientModel, clients)
	for i := range cs {
		cs[i] = h.dial(t)
		models[i] = &clientModel{t: t, name: fmt.Sprint("client ", i), uids: uidRange(1, 100)}
	}

	stop := make(chan struct{})
	var clientsDone sync.WaitGroup
	for i, c := range cs {
		clientsDone.Add(1)
		go func() {
			defer clientsDone.Done()
			m := models[i]
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				switch k % 3 {
				case 0:
					for _, l := range c.cmd("NOOP") {
						m.observe(l)
					}
				case 1:
					// The FETCH 1 reply itself may show UID of seq 1.
					if len(m.uids) > 0 {
						for _, l := range c.cmd("FETCH 1 (UID)") {
							m.observe(l)
						}
					}
				case 2:
					c.idle()
					for _, l := range c.done() {
						m.observe(l)
					}
				}
			}
		}()
	}

	var appliersDone sync.WaitGroup
	for g := range appliers {
		appliersDone.Add(1)
		go func() {
			defer appliersDone.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range rounds {
				uids := h.mbox.UIDs()
				var c idle.Change
				switch r.IntN(3) {
				case 0:
					c.Added = []imap.UID{imap.UID(next.Add(1)), imap.UID(next.Add(1))}
				case 1:
					if len(uids) > 0 {
						c.Expunged = []imap.UID{uids[r.IntN(len(uids))], uids[r.IntN(len(uids))]}
					}
				case 2:
					if len(uids) > 0 {
						c.Flags = map[imap.UID][]imap.Flag{uids[r.IntN(len(uids))]: {imap.FlagSeen}}
					}
				}
				h.apply(c, nil)
			}
		}()
	}
	appliersDone.Wait()
	close(stop)
	clientsDone.Wait()

	want := h.mbox.UIDs()
	for i, c := range cs {
		for _, l := range c.cmd("NOOP") {
			models[i].observe(l)
		}
		if got := c.view().UIDs(); !slices.Equal(got, want) {
			t.Errorf("client %d: view %v, mailbox %v", i, got, want)
		}
		if got := c.fetchUIDs(); !slices.Equal(got, want) {
			t.Errorf("client %d: FETCH shows %v, mailbox %v", i, got, want)
		}
		t.Logf("client %d observed %d untagged responses", i, models[i].seen)
		if len(models[i].uids) != len(want) {
			t.Errorf("client %d: counted %d messages, mailbox has %d", i, len(models[i].uids), len(want))
		}
		for seq, uid := range models[i].uids {
			if uid != 0 && uid != want[seq] {
				t.Errorf("client %d: believes seq %d is UID %d, it is %d", i, seq+1, uid, want[seq])
			}
		}
	}
}
