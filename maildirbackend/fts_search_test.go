package maildirbackend_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// ftsServers serves one Maildir twice: scan (no full-text index) and idx.
type ftsServers struct {
	root      string
	scan, idx *maildirtest.Server
	cs, ci    *imapclient.Client
}

func newFTSServers(t *testing.T, root string) *ftsServers {
	t.Helper()
	s := &ftsServers{root: root}
	s.scan = maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{NoFullTextIndex: true}})
	s.idx = maildirtest.NewServer(t, &maildirtest.Options{Maildir: root})
	s.cs, s.ci = s.scan.Dial(t, nil), s.idx.Dial(t, nil)
	for _, c := range []*imapclient.Client{s.cs, s.ci} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// waitIndexed waits until the indexed server has indexed the INBOX.
func (s *ftsServers) waitIndexed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !maildirbackend.FTSIndexed(s.idx.Backend) {
		if time.Now().After(deadline) {
			t.Fatal("the INBOX was not indexed within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func uidSearch(t *testing.T, c *imapclient.Client, cr *imap.SearchCriteria) []imap.UID {
	t.Helper()
	d, err := c.UIDSearch(cr, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH %+v: %v", cr, err)
	}
	return d.AllUIDs()
}

// compare runs cr on both servers and fails when they differ.
func (s *ftsServers) compare(t *testing.T, cr *imap.SearchCriteria) []imap.UID {
	t.Helper()
	want, got := uidSearch(t, s.cs, cr), uidSearch(t, s.ci, cr)
	if !slices.Equal(want, got) {
		t.Fatalf("SEARCH %+v: scan %v, index %v", cr, want, got)
	}
	return got
}

func writeSearchCorpus(t *testing.T, root string, rng *rand.Rand, n int) {
	t.Helper()
	for i := range n {
		maildirtest.Deliver(t, root, maildirtest.SearchMessage(rng, i))
	}
}

func newMaildir(t testing.TB) string {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestSearchFTS_indexEqualsScan: random BODY/TEXT programs over messages
// in several charsets and transfer encodings, multipart and embedded, get
// the same answer from the index (candidates, then verified) as from the
// scan of every message, before the index is complete (mixed), once it is
// in memory, and once it is on disk in a new process.
func TestSearchFTS_indexEqualsScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	root := newMaildir(t)
	writeSearchCorpus(t, root, rng, 120)
	s := newFTSServers(t, root)
	hits := 0
	for range 20 { // while the index is being built
		hits += len(s.compare(t, maildirtest.SearchCriteria(rng)))
	}
	s.waitIndexed(t)
	for range 80 {
		hits += len(s.compare(t, maildirtest.SearchCriteria(rng)))
	}
	if hits == 0 {
		t.Fatal("no program matched anything: the test proves nothing")
	}
	// A new process finds the index on disk, written when the first
	// closed.
	if err := s.idx.Backend.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newFTSServers(t, root)
	s2.waitIndexed(t)
	for range 40 {
		s2.compare(t, maildirtest.SearchCriteria(rng))
	}
}

// TestSearchFTS_keptCurrent: a delivery, an APPEND, a COPY and an expunge
// are reflected at once, and messages delivered while the server was down
// are found after it starts again; a damaged segment file costs time,
// never an answer.
func TestSearchFTS_keptCurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	root := newMaildir(t)
	writeSearchCorpus(t, root, rng, 30)
	s := newFTSServers(t, root)
	s.waitIndexed(t)
	body := func(v string) *imap.SearchCriteria { return &imap.SearchCriteria{Body: []string{v}} }
	maildirtest.Deliver(t, root, maildirtest.Message("d1")+"delivered-pumpkin\n")
	waitUntil(t, func() bool { return len(uidSearch(t, s.ci, body("delivered-PUMPKIN"))) == 1 })
	msg := "Subject: a\r\n\r\nappended-turnip\r\n"
	app := s.ci.Append("INBOX", int64(len(msg)), nil)
	app.Write([]byte(msg))
	app.Close()
	if _, err := app.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := uidSearch(t, s.ci, body("turnip")); len(got) != 1 {
		t.Fatalf("after APPEND: %v", got)
	}
	if err := s.ci.Create("Other", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids := uidSearch(t, s.ci, body("turnip"))
	if _, err := s.ci.Copy(imap.UIDSetNum(uids...), "Other").Wait(); err != nil {
		t.Fatal(err)
	}
	other := s.idx.Dial(t, nil)
	if _, err := other.Select("Other", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := uidSearch(t, other, body("turnip")); len(got) != 1 {
		t.Fatalf("after COPY: %v", got)
	}
	if err := s.ci.Store(imap.UIDSetNum(uids...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.ci.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if got := uidSearch(t, s.ci, body("turnip")); len(got) != 0 {
		t.Fatalf("after EXPUNGE: %v", got)
	}
	s.waitIndexed(t)
	if err := maildirbackend.FTSFlush(s.idx.Backend); err != nil {
		t.Fatal(err)
	}
	// Server down: a delivery and a damaged segment.
	s.idx.Backend.Close()
	maildirtest.Deliver(t, root, maildirtest.Message("d2")+"while-down-parsnip\n")
	segs, _ := filepath.Glob(filepath.Join(root, "maildir-imapd.fts", "seg-*"))
	if len(segs) == 0 {
		t.Fatal("no segment written")
	}
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x55
		os.WriteFile(p, b, 0o600)
	}
	s2 := newFTSServers(t, root)
	for _, v := range []string{"while-down-parsnip", "delivered-pumpkin", "turnip", "apple"} {
		s2.compare(t, body(v))
	}
	s2.waitIndexed(t)
	for range 20 {
		s2.compare(t, maildirtest.SearchCriteria(rng))
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSearchFTS_off: with the index off, no index is written.
func TestSearchFTS_off(t *testing.T) {
	root := newMaildir(t)
	writeSearchCorpus(t, root, rand.New(rand.NewPCG(12, 3)), 10)
	srv := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{NoFullTextIndex: true}})
	c := srv.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uidSearch(t, c, &imap.SearchCriteria{Text: []string{"apple"}})
	if _, err := os.Stat(filepath.Join(root, "maildir-imapd.fts")); !os.IsNotExist(err) {
		t.Fatalf("index directory with the index off: %v", err)
	}
}

// TestSearchFTS_twoProcesses: a second backend on the same Maildir (a
// second daemon) finds the index locked, scans, and answers alike; once
// the first closes, the second opens the index and uses it.
func TestSearchFTS_twoProcesses(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 5))
	root := newMaildir(t)
	writeSearchCorpus(t, root, rng, 60)
	s := newFTSServers(t, root)
	s.waitIndexed(t)
	other := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root})
	co := other.Dial(t, nil)
	if _, err := co.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		cr := maildirtest.SearchCriteria(rng)
		if want, got := uidSearch(t, s.cs, cr), uidSearch(t, co, cr); !slices.Equal(want, got) {
			t.Fatalf("SEARCH %+v: scan %v, second backend %v", cr, want, got)
		}
	}
	if maildirbackend.FTSMissing(other.Backend) != -1 {
		t.Fatal("the second backend opened the index the first holds")
	}
	if err := s.idx.Backend.Close(); err != nil {
		t.Fatal(err)
	}
	uidSearch(t, co, &imap.SearchCriteria{Body: []string{"apple"}}) // opens it now
	waitUntil(t, func() bool { return maildirbackend.FTSIndexed(other.Backend) })
	for range 10 {
		cr := maildirtest.SearchCriteria(rng)
		if want, got := uidSearch(t, s.cs, cr), uidSearch(t, co, cr); !slices.Equal(want, got) {
			t.Fatalf("SEARCH %+v: scan %v, second backend with the index %v", cr, want, got)
		}
	}
}
