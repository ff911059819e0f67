package maildirbackend_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestSession_selectRacingDelete has one session STATUS, SELECT (or
// EXAMINE), FETCH and CLOSE a mailbox while another creates, fills, renames
// and deletes it: every answer is OK or a clean NO (NONEXISTENT, TRYCREATE),
// never NO [SERVERBUG], and both connections survive. Before the folder
// identity work (5899922 and earlier) SELECT answered SERVERBUG on
// "open new: no such file or directory" and on dovecot-uidlist.tmp, and
// "mkdir tmp: file exists".
func TestSession_selectRacingDelete(t *testing.T) {
	const rounds = 200
	s := maildirtest.NewServer(t, nil)
	sel := s.Dial(t, nil)
	mgr := s.Dial(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8*rounds) // at most 8 commands a round
	check := func(op string, err error) {
		var ie *imap.Error
		if err == nil {
			return
		}
		if errors.As(err, &ie) && op == "FETCH" && ie.Type == imap.StatusResponseTypeBad && ie.Code == imap.ResponseCodeClientBug {
			return // 1:* in a mailbox emptied meanwhile (as Dovecot: BAD)
		}
		if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code == imap.ResponseCodeServerBug {
			errs <- errors.New(op + ": " + err.Error())
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			_, err := sel.Status("X", &imap.StatusOptions{NumMessages: true, UIDNext: true, Size: true}).Wait()
			check("STATUS", err)
			_, err = sel.Select("X", &imap.SelectOptions{ReadOnly: i%3 == 0}).Wait()
			check("SELECT", err)
			if err == nil {
				_, err := sel.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
				check("FETCH", err)
				check("CLOSE", sel.Unselect().Wait())
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < rounds; i++ {
			check("CREATE", mgr.Create("X", nil).Wait())
			if i%2 == 0 {
				msg := maildirtest.Message("race")
				cmd := mgr.Append("X", int64(len(msg)), nil)
				cmd.Write([]byte(msg))
				cmd.Close()
				_, err := cmd.Wait()
				check("APPEND", err)
			}
			if i%4 == 1 {
				check("RENAME", mgr.Rename("X", "Y", nil).Wait())
				check("DELETE", mgr.Delete("Y").Wait())
			} else {
				check("DELETE", mgr.Delete("X").Wait())
			}
		}
	}()
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
	if n > 10 {
		t.Errorf("... %d errors in all", n)
	}
	for _, c := range []*imapclient.Client{sel, mgr} {
		if err := c.Noop().Wait(); err != nil {
			t.Errorf("connection lost: %v", err)
		}
	}
}
