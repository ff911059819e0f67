package imapd

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// recordingSession is a backend stand-in for the wire tests of FETCH,
// STORE, SEARCH, SORT and THREAD: it records what the engine asked and
// answers with canned data. The methods these tests do not reach are
// those of the nil embedded Session.
type recordingSession struct {
	Session
	mu         sync.Mutex
	fetchOpts  *imap.FetchOptions
	fetchSet   imap.NumSet
	storeFlags *imap.StoreFlags
	searchOpts *imap.SearchOptions
	searchKind NumKind
	searchData *imap.SearchData
}

func (s *recordingSession) Close() error                   { return nil }
func (s *recordingSession) Poll(*UpdateWriter, bool) error { return nil }

func (s *recordingSession) Fetch(w *FetchWriter, set imap.NumSet, o *imap.FetchOptions) error {
	s.mu.Lock()
	s.fetchOpts, s.fetchSet = o, set
	s.mu.Unlock()
	rw := w.CreateMessage(1)
	if o.UID {
		rw.WriteUID(42)
	}
	for _, sec := range o.BodySection {
		lw := rw.WriteBodySection(sec, 3)
		io.WriteString(lw, "abc")
		lw.Close()
	}
	if o.BodyStructure != nil {
		bs := &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Size: 3, Text: &imap.BodyStructureText{NumLines: 1}}
		if o.BodyStructure.Extended {
			bs.Extended = &imap.BodyStructureSinglePartExt{}
		}
		rw.WriteBodyStructure(bs)
	}
	return rw.Close()
}

func (s *recordingSession) Store(w *FetchWriter, set imap.NumSet, f *imap.StoreFlags, _ *imap.StoreOptions) error {
	s.mu.Lock()
	s.storeFlags = f
	s.mu.Unlock()
	rw := w.CreateMessage(1)
	rw.WriteFlags(f.Flags)
	return rw.Close()
}

func (s *recordingSession) Search(kind NumKind, _ *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchOpts, s.searchKind = o, kind
	return s.searchData, nil
}

// sortingSession adds SORT and THREAD.
type sortingSession struct {
	recordingSession
	sortNums []uint32
	threads  []*Thread
}

func (s *sortingSession) Sort(NumKind, []SortCriterion, *imap.SearchCriteria) ([]uint32, error) {
	return s.sortNums, nil
}

func (s *sortingSession) ThreadAlgorithms() []imap.ThreadAlgorithm {
	return []imap.ThreadAlgorithm{imap.ThreadReferences}
}

func (s *sortingSession) Thread(NumKind, imap.ThreadAlgorithm, *imap.SearchCriteria) ([]*Thread, error) {
	return s.threads, nil
}

// wireClient is the client end of a connection served by the engine in the
// selected state.
type wireClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialSelected(t *testing.T, s Session) *wireClient {
	t.Helper()
	srv := New(&Options{NewSession: func(c *Conn) (Session, error) {
		c.setState(imap.ConnStateSelected)
		return s, nil
	}})
	cli, sv := net.Pipe()
	done := make(chan struct{})
	go func() { srv.ServeConn(sv); close(done) }()
	t.Cleanup(func() {
		cli.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("connection did not end")
		}
	})
	wc := &wireClient{t: t, nc: cli, br: bufio.NewReader(cli)}
	wc.line() // greeting
	return wc
}

func (wc *wireClient) line() string {
	wc.t.Helper()
	wc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := wc.br.ReadString('\n')
	if err != nil {
		wc.t.Fatalf("reading a response: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// do sends a command line (literal data included) and returns the lines
// that answer it, up to the tagged one.
func (wc *wireClient) do(tag, cmd string) []string {
	wc.t.Helper()
	go func() {
		wc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(wc.nc, tag+" "+cmd+"\r\n")
	}()
	var lines []string
	for {
		l := wc.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

func expectLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestFetchStore_wire(t *testing.T) {
	s := &recordingSession{}
	wc := dialSelected(t, s)
	expectLines(t, wc.do("a1", "FETCH 1 (RFC822.HEADER BODY[TEXT]<0.3> BODY BODYSTRUCTURE RFC822)"),
		"* 1 FETCH (RFC822.HEADER {3}", `abc BODY[TEXT]<0> {3}`,
		`abc RFC822 {3}`,
		`abc BODY ("text" "plain" NIL NIL NIL "7bit" 3 1) BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 3 1 NIL NIL NIL NIL))`,
		"a1 OK FETCH completed")
	expectLines(t, wc.do("a2", "UID FETCH 5 BODY.PEEK[]"),
		"* 1 FETCH (UID 42 BODY[] {3}", "abc)", "a2 OK UID FETCH completed")
	if !s.fetchOpts.UID {
		t.Error("UID FETCH did not ask for the UID")
	}
	if _, ok := s.fetchSet.(imap.UIDSet); !ok {
		t.Errorf("UID FETCH set is a %T", s.fetchSet)
	}
	expectLines(t, wc.do("a3", "FETCH 0 FLAGS"), "a3 BAD [CLIENTBUG] Error in IMAP command FETCH: invalid sequence set")
	expectLines(t, wc.do("a4", `STORE 1 +FLAGS.SILENT (\Seen foo)`), `* 1 FETCH (FLAGS (\Seen foo))`, "a4 OK STORE completed")
	if f := s.storeFlags; f.Op != imap.StoreFlagsAdd || !f.Silent || len(f.Flags) != 2 {
		t.Errorf("STORE flags = %+v", f)
	}
	expectLines(t, wc.do("a5", "STORE 1 LABELS (x)"), "a5 BAD [CLIENTBUG] Error in IMAP command STORE: STORE can only change FLAGS, not LABELS")
}

func TestSearch_wire(t *testing.T) {
	s := &recordingSession{searchData: &imap.SearchData{All: imap.SeqSet{{Start: 1, Stop: 1}, {Start: 3, Stop: 4}}, Min: 1, Max: 4, Count: 3}}
	wc := dialSelected(t, s)
	expectLines(t, wc.do("a1", "SEARCH UNSEEN"), "* SEARCH 1 3 4", "a1 OK SEARCH completed")
	expectLines(t, wc.do("a2", "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN"),
		`* ESEARCH (TAG "a2") MIN 1 MAX 4 ALL 1,3:4 COUNT 3`, "a2 OK SEARCH completed")
	expectLines(t, wc.do("a3", "SEARCH RETURN (SAVE) UNSEEN"), "a3 OK SEARCH completed")
	if !s.searchOpts.ReturnSave {
		t.Error("RETURN (SAVE) did not reach the session")
	}
	expectLines(t, wc.do("a4", "SEARCH CHARSET KOI8-R ALL"), "a4 NO [BADCHARSET (US-ASCII UTF-8)] Only US-ASCII and UTF-8 are supported")
	expectLines(t, wc.do("a5", "SEARCH SUBJECT {3}\r\nabc"), "+ Ready for literal data", "* SEARCH 1 3 4", "a5 OK SEARCH completed")
	expectLines(t, wc.do("a6", "SEARCH 1:0"), "a6 BAD [CLIENTBUG] Error in IMAP command SEARCH: invalid sequence set")
	s.searchData = &imap.SearchData{All: imap.UIDSet{{Start: 7, Stop: 8}}, Min: 7, Max: 8, Count: 2}
	expectLines(t, wc.do("a7", "UID SEARCH ALL"), "* SEARCH 7 8", "a7 OK UID SEARCH completed")
	if s.searchKind != NumKindUID {
		t.Error("UID SEARCH searched by sequence number")
	}
	expectLines(t, wc.do("a8", "ENABLE IMAP4rev2"), "* ENABLED IMAP4rev2", "a8 OK ENABLE completed")
	expectLines(t, wc.do("a9", "UID SEARCH ALL"), `* ESEARCH (TAG "a9") UID ALL 7:8`, "a9 OK UID SEARCH completed")
	expectLines(t, wc.do("b1", "SORT (DATE) UTF-8 ALL"), "b1 BAD Unknown command SORT")
	expectLines(t, wc.do("b2", "THREAD REFERENCES UTF-8 ALL"), "b2 BAD Unknown command THREAD")
}

func TestSortThread_wire(t *testing.T) {
	s := &sortingSession{sortNums: []uint32{3, 1, 2}, threads: []*Thread{{Num: 1, Children: []*Thread{{Num: 2}, {Num: 3}}}}}
	wc := dialSelected(t, s)
	expectLines(t, wc.do("a1", "SORT (REVERSE DATE) UTF-8 ALL"), "* SORT 3 1 2", "a1 OK SORT completed")
	expectLines(t, wc.do("a2", "UID SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) UTF-8 ALL"),
		`* ESEARCH (TAG "a2") UID MIN 3 MAX 2 ALL 3,1:2 COUNT 3`, "a2 OK UID SORT completed")
	expectLines(t, wc.do("a3", "SORT (DATE) KOI8-R ALL"), "a3 NO [BADCHARSET (US-ASCII UTF-8)] Only US-ASCII and UTF-8 are supported")
	expectLines(t, wc.do("a4", "THREAD REFERENCES US-ASCII ALL"), "* THREAD (1 (2)(3))", "a4 OK THREAD completed")
	expectLines(t, wc.do("a5", "THREAD ORDEREDSUBJECT US-ASCII ALL"), "a5 BAD [CLIENTBUG] Error in IMAP command THREAD: unknown THREAD algorithm ORDEREDSUBJECT")
}
