package maildirbackend_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestSearchFTS_oneIndexerAtATime: STATUS of every folder (a client that
// polls them all) opens each and queues its indexer for the one slot;
// all get indexed in turn, and closing the backend while indexers wait
// for the slot returns at once instead of waiting for them.
func TestSearchFTS_oneIndexerAtATime(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 4))
	root := newMaildir(t)
	names := []string{"A", "B", "C", "D"}
	for _, name := range names {
		dir := filepath.Join(root, "."+name)
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		writeSearchCorpus(t, dir, rng, 60)
	}
	s := newFTSServers(t, root)
	for _, name := range names {
		if _, err := s.ci.Status(name, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	s.waitIndexed(t)
	for _, name := range names {
		if _, err := s.cs.Select(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ci.Select(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			s.compare(t, maildirtest.SearchCriteria(rng))
		}
	}

	// A new backend: four builds queue for the slot; Close stops them.
	root2 := newMaildir(t)
	for i, name := range names {
		dir := filepath.Join(root2, "."+name)
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 400 {
			maildirtest.Deliver(t, dir, maildirtest.SearchMessage(rng, i*1000+j))
		}
	}
	srv := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root2})
	c := srv.Dial(t, nil)
	for _, name := range names {
		if _, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if maildirbackend.FTSIndexed(srv.Backend) {
		t.Fatal("1600 messages indexed before Close: the test proves nothing")
	}
	done := make(chan error, 1)
	go func() { done <- srv.Backend.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Backend.Close waited 20 s for queued indexers")
	}
}
