package interop

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMetadata_killDuringSet kills maildir-imapd (SIGKILL) while a client
// sends SETMETADATA commands that each give 20 entries of INBOX the same
// new generation, then restarts it: every entry must have one generation,
// at least the last one acknowledged, and the file must read back.
func TestMetadata_killDuringSet(t *testing.T) {
	a := newAccount(t)
	const entries = 20
	pad := strings.Repeat("p", 2000)
	acked, sent := -1, -1
	for round := range 8 {
		d := startImapd(t, a)
		w, err := dialRaw(d.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if round > 0 {
			checkGeneration(t, w, entries, acked, sent)
		}
		done := make(chan struct{})
		// The kill comes at a random moment after the round's first
		// acknowledgement (a loaded machine can take longer than the
		// random wait for the first one).
		firstAck := make(chan struct{})
		var once sync.Once
		var lastErr error
		go func() {
			defer close(done)
			for g := sent + 1; ; g++ {
				var b strings.Builder
				lits := make([][]byte, entries)
				for k := range entries {
					fmt.Fprintf(&b, " /private/k%d \x00", k)
					lits[k] = []byte(fmt.Sprintf("gen-%d-%s", g, pad))
				}
				sent = g
				rs, err := w.cmd("SETMETADATA INBOX ("+strings.TrimPrefix(b.String(), " ")+")", lits...)
				if err != nil {
					lastErr = err
					return // killed
				}
				if r := rs[len(rs)-1]; r.status != "OK" {
					t.Errorf("SETMETADATA: %s", r.raw)
					return
				}
				acked = g
				once.Do(func() { close(firstAck) })
			}
		}()
		select {
		case <-firstAck:
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no SETMETADATA acknowledged in 30 s", round)
		}
		time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond)
		_ = syscall.Kill(d.proc.cmd.Process.Pid, syscall.SIGKILL)
		<-d.proc.exited
		d.stopped = true
		<-done
		w.c.Close()
		if acked < 1 {
			t.Fatalf("round %d: no SETMETADATA acknowledged before the kill (%v); the daemon's log:\n%s",
				round, lastErr, tail(d.proc.output.String(), 40))
		}
	}
	d := startImapd(t, a)
	w, err := dialRaw(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	checkGeneration(t, w, entries, acked, sent)
}

// checkGeneration wants every entry /private/k<i> of INBOX to hold the
// same generation g, acked <= g <= sent.
func checkGeneration(t *testing.T, w *wconn, entries, acked, sent int) {
	t.Helper()
	rs, err := w.cmd("GETMETADATA (DEPTH 1) INBOX /private")
	if err != nil {
		t.Fatal(err)
	}
	if r := rs[len(rs)-1]; r.status != "OK" || len(rs) != 2 {
		t.Fatalf("GETMETADATA: %v", rs)
	}
	l := rs[0].vals[2].l
	if len(l) != 2*entries {
		t.Fatalf("%d entries after the kill, want %d", len(l)/2, entries)
	}
	gens := map[string]bool{}
	for i := 1; i < len(l); i += 2 {
		g, _, _ := strings.Cut(strings.TrimPrefix(l[i].str(), "gen-"), "-")
		gens[g] = true
	}
	if len(gens) != 1 {
		t.Fatalf("entries of %d generations after the kill: %v", len(gens), gens)
	}
	for g := range gens {
		var n int
		fmt.Sscan(g, &n)
		if n < acked || n > sent {
			t.Errorf("generation %d after the kill; acknowledged %d, sent %d", n, acked, sent)
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
