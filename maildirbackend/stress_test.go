package maildirbackend_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestStress_twoServersAndTheDisk runs two servers (two "processes") on one
// Maildir while an MTA delivers, a client of each server stores flags,
// expunges and moves, and a local program renames and unlinks files. Then
// both servers must converge to the disk: same UIDs, same flags, no
// duplicate UID, every file listed.
func TestStress_twoServersAndTheDisk(t *testing.T) {
	a := maildirtest.NewServer(t, nil)
	b := maildirtest.NewServer(t, &maildirtest.Options{Maildir: a.Maildir})
	ca, cb := a.Dial(t, nil), b.Dial(t, nil)
	if err := ca.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*imapclient.Client{ca, cb} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	const ops = 60
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- err
			}
		}()
	}
	run(func() error { // the MTA
		for i := 0; i < ops; i++ {
			maildirtest.Deliver(t, a.Maildir, maildirtest.Message(fmt.Sprintf("stress %d", i)))
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	client := func(c *imapclient.Client, seed uint64) func() error {
		return func() error {
			rng := rand.New(rand.NewPCG(seed, seed))
			for i := 0; i < ops; i++ {
				if err := c.Noop().Wait(); err != nil {
					return err
				}
				n := c.Mailbox().NumMessages
				if n == 0 {
					continue
				}
				seq := imap.SeqSetNum(uint32(rng.IntN(int(n))) + 1)
				var err error
				switch rng.IntN(4) {
				case 0, 1:
					flag := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, "$Label1"}[rng.IntN(3)]
					err = c.Store(seq, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
				case 2:
					_, err = c.Move(seq, "Archive").Wait()
				case 3:
					if err = c.Store(seq, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err == nil {
						err = c.Expunge().Close()
					}
				}
				if err != nil && !strings.Contains(err.Error(), "NO") {
					return err
				}
			}
			return nil
		}
	}
	run(client(ca, 1))
	run(client(cb, 2))
	run(func() error { // a local mail program
		rng := rand.New(rand.NewPCG(3, 3))
		for i := 0; i < ops; i++ {
			entries, _ := os.ReadDir(filepath.Join(a.Maildir, "cur"))
			if len(entries) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			e := entries[rng.IntN(len(entries))]
			p := filepath.Join(a.Maildir, "cur", e.Name())
			if rng.IntN(4) == 0 {
				os.Remove(p)
			} else {
				key, _, _ := strings.Cut(e.Name(), ":")
				os.Rename(p, filepath.Join(a.Maildir, "cur", key+":2,R"))
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Converge: both servers list exactly the files on disk, with the same
	// UIDs and flags.
	deadline := time.Now().Add(20 * time.Second)
	for {
		da, ea := listing(t, ca)
		db, eb := listing(t, cb)
		disk := diskKeys(t, a.Maildir)
		if ea == nil && eb == nil && da == db && strings.Count(da, "\n") == disk {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no convergence: a (%v):\n%s\nb (%v):\n%s\nfiles on disk: %d", ea, da, eb, db, disk)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listing is "UID flags" per message of the selected mailbox, or an error
// for a duplicate UID.
func listing(t *testing.T, c *imapclient.Client) (string, error) {
	t.Helper()
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[imap.UID]bool{}
	var lines []string
	for _, m := range msgs {
		if seen[m.UID] {
			return "", fmt.Errorf("duplicate UID %d", m.UID)
		}
		seen[m.UID] = true
		var fl []string
		for _, f := range m.Flags {
			fl = append(fl, string(f))
		}
		sort.Strings(fl)
		lines = append(lines, fmt.Sprintf("%d %v", m.UID, fl))
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "", nil // every message expunged or moved
	}
	return strings.Join(lines, "\n") + "\n", nil
}

func diskKeys(t *testing.T, root string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			t.Fatal(err)
		}
		n += len(entries)
	}
	return n
}
