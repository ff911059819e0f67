package main

// The scenarios of `bench push`: connect, change the Maildirs as an MTA,
// wait for the notifications, and compute the figures.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchUser is one user of the bench: credentials and Maildir.
type benchUser struct {
	name, password, maildir string
	keys                    []string // flag/expunge: cur/ files (":2,S") to act on
}

// pushResult holds the figures of one run.
type pushResult struct {
	Ops                          int
	Expected, Received           int
	Missed, Late, Extra          int
	Latencies                    []time.Duration // sorted
	OpTimes                      []time.Duration // MTA side: write+fsync+rename (or rename/unlink), sorted
	Setup                        time.Duration
	ConnErrors                   int
	MemBefore, MemAfter, MemEnd  memInfo
	BurstTime                    time.Duration // first to last rename
	LastSeenFirst, LastSeenLast  time.Duration // last client's last message, after the first / last rename
	BadClients                   int           // wrong final EXISTS, or duplicate/missing UIDs
	Verified, VerifiedOK, Base   int
	FinalExistsOK, FinalExistsOf int
}

// memInfo is a server's memory from /proc, in KiB.
type memInfo struct {
	RSS, PSS int64
	OK       bool
}

// benchPush runs one `bench push` scenario. A non-nil result may come with
// an error (e.g. a failed connection after the figures were taken).
func benchPush(ctx context.Context, c *benchConfig) (*pushResult, error) {
	users, err := benchUsers(c)
	if err != nil {
		return nil, err
	}
	n := c.Deliveries
	interval := c.Interval
	if c.Mode == modeBurst {
		n, interval = c.Burst, 0
	}
	// Operations are spread over all users with a stride, so that 1000
	// deliveries over 10,000 users hit users 0, 10, 20, ... (choosing
	// only the first users would hide watch-limit problems).
	targets := make([]int, n)
	opsByUser := make([][]int, len(users))
	stride := max(1, len(users)/min(n, len(users)))
	for j := range targets {
		u := (j * stride) % len(users)
		targets[j] = u
		opsByUser[u] = append(opsByUser[u], j)
	}
	if c.Mode == modeFlag || c.Mode == modeExpunge {
		for u, ops := range opsByUser {
			if len(ops) > 0 {
				if users[u].keys, err = ensureSeen(users[u].maildir, len(ops)); err != nil {
					return nil, err
				}
			}
		}
	}

	res := &pushResult{Ops: n}
	start := time.Now()
	o := &clientOpts{addr: c.Addr, tls: c.TLS, starttls: c.StartTLS, mode: c.Mode, start: start}
	conns := make([]*benchConn, c.Conns)
	for i := range conns {
		u := i % len(users)
		conns[i] = &benchConn{user: u, userName: users[u].name, password: users[u].password, expect: len(opsByUser[u])}
		res.Expected += len(opsByUser[u])
	}
	rec := newCounter(res.Expected)
	for _, bc := range conns {
		bc.recorder = rec
	}
	verify := verifySet(c, len(conns))
	res.MemBefore = readMem(c.PID)

	// Set up: at most SetupParallel connections in LOGIN/SELECT/IDLE.
	setupStart := time.Now()
	sem := make(chan struct{}, c.SetupParallel)
	var ready, finished sync.WaitGroup
	var setupFailed atomic.Int32
	var firstErr error
	var errMu sync.Mutex
	noteErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		res.ConnErrors++
		if firstErr == nil {
			firstErr = err
		}
	}
	started := make([]bool, len(conns))
	for i, bc := range conns {
		if setupFailed.Load() > 0 || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		started[i] = true
		ready.Add(1)
		finished.Add(1)
		go func(i int, bc *benchConn) {
			defer finished.Done()
			err := bc.setup(o)
			<-sem
			if err != nil {
				setupFailed.Add(1)
				noteErr(fmt.Errorf("connection %d (%s): %w", i, bc.userName, err))
				if bc.nc != nil {
					bc.nc.Close()
				}
				ready.Done()
				return
			}
			ready.Done()
			if err := bc.idle(o); err != nil {
				noteErr(fmt.Errorf("connection %d (%s) idling: %w", i, bc.userName, err))
				bc.nc.Close()
				return
			}
			if err := bc.finish(verify[i]); err != nil {
				noteErr(fmt.Errorf("connection %d (%s) closing: %w", i, bc.userName, err))
			}
		}(i, bc)
	}
	ready.Wait()
	res.Setup = time.Since(setupStart)
	defer closeAll(conns, started, &finished)
	if setupFailed.Load() > 0 || ctx.Err() != nil {
		return nil, errors.Join(firstErr, ctx.Err())
	}
	res.MemAfter = readMem(c.PID)

	// The flag/expunge keys are taken after SELECT, so that the server
	// already knows them.
	opStart := make([]int64, n)
	res.OpTimes = make([]time.Duration, 0, n)
	begin := time.Now()
	next := make([]int, len(users))
	for j, u := range targets {
		if d := time.Until(begin.Add(time.Duration(j) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		k := next[u]
		next[u]++
		t0 := time.Now()
		at, err := mtaOp(c.Mode, &users[u], k, j)
		if err != nil {
			return nil, err
		}
		res.OpTimes = append(res.OpTimes, time.Since(t0))
		opStart[j] = at.Sub(start).Nanoseconds()
	}
	lastOp := time.Now()
	select {
	case <-rec.done:
	case <-time.After(c.Timeout):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res.MemEnd = readMem(c.PID)
	stopAll(conns)
	waitTimeout(&finished, benchCmdTimeout+10*time.Second)
	res.collect(c, conns, opsByUser, opStart, start, lastOp, verify)
	sort.Slice(res.OpTimes, func(a, b int) bool { return res.OpTimes[a] < res.OpTimes[b] })
	if res.ConnErrors > 0 {
		return res, fmt.Errorf("%d connection errors, first: %w", res.ConnErrors, firstErr)
	}
	return res, nil
}

// collect computes the figures once the clients have stopped.
func (res *pushResult) collect(c *benchConfig, conns []*benchConn, opsByUser [][]int, opStart []int64, start, lastOp time.Time, verify []bool) {
	var lastSeen int64 = -1
	var ref []uint32
	for i, bc := range conns {
		bc.mu.Lock()
		res.Received += len(bc.recv)
		res.Extra += bc.extra
		for k, at := range bc.recv {
			lat := time.Duration(at - opStart[opsByUser[bc.user][k]])
			res.Latencies = append(res.Latencies, lat)
			if lat > c.Timeout {
				res.Late++
			}
		}
		if c.Mode == modeBurst {
			res.Base = bc.base
			res.FinalExistsOf++
			if bc.exists == bc.base+c.Burst && bc.extra == 0 {
				res.FinalExistsOK++
			} else {
				res.BadClients++
			}
			if len(bc.recv) == c.Burst {
				lastSeen = max(lastSeen, bc.recv[c.Burst-1])
			}
			if verify[i] {
				res.Verified++
				ok := bc.fetchErr == nil && len(bc.uids) == bc.base+c.Burst && ascending(bc.uids)
				if ok && ref == nil {
					ref = bc.uids
				} else if ok {
					ok = slices.Equal(ref, bc.uids)
				}
				if ok {
					res.VerifiedOK++
				} else if bc.exists == bc.base+c.Burst {
					res.BadClients++ // not already counted
				}
			}
		}
		bc.mu.Unlock()
	}
	res.Missed = res.Expected - res.Received
	sort.Slice(res.Latencies, func(a, b int) bool { return res.Latencies[a] < res.Latencies[b] })
	if c.Mode == modeBurst && len(opStart) > 0 {
		res.BurstTime = time.Duration(opStart[len(opStart)-1] - opStart[0])
		if lastSeen >= 0 {
			res.LastSeenFirst = time.Duration(lastSeen - opStart[0])
			res.LastSeenLast = time.Duration(lastSeen - opStart[len(opStart)-1])
		}
	}
}

// verifySet says which connections run UID FETCH 1:* (UID) at the end of a
// burst: all of them, or --verify evenly spaced ones.
func verifySet(c *benchConfig, n int) []bool {
	v := make([]bool, n)
	if c.Mode != modeBurst {
		return v
	}
	k := n
	if c.Verify > 0 && c.Verify < n {
		k = c.Verify
	}
	for i := 0; i < k; i++ {
		v[i*n/k] = true
	}
	return v
}

// stopAll ends IDLE on every connection (DONE), 64 writes at a time.
func stopAll(conns []*benchConn) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, bc := range conns {
		if bc.nc == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			bc.stop()
			<-sem
		}()
	}
	wg.Wait()
}

// closeAll closes every connection that is still open and waits (bounded)
// for the client goroutines.
func closeAll(conns []*benchConn, started []bool, finished *sync.WaitGroup) {
	for i, bc := range conns {
		if started[i] && bc.nc != nil {
			bc.nc.Close()
		}
	}
	waitTimeout(finished, 30*time.Second)
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// benchUsers returns the users 0..Users-1: from --users-file or the
// patterns, with their Maildirs from --maildir-pattern.
func benchUsers(c *benchConfig) ([]benchUser, error) {
	users := make([]benchUser, 0, c.Users)
	if c.UsersFile != "" {
		f, err := os.Open(c.UsersFile)
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() && len(users) < c.Users {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fields := strings.SplitN(line, ":", 3)
			if len(fields) < 2 {
				continue
			}
			pw, ok := strings.CutPrefix(fields[1], "{PLAIN}")
			if !ok {
				if pw, ok = strings.CutPrefix(fields[1], "{CLEAR}"); !ok {
					return nil, fmt.Errorf("users file %s: user %s: only {PLAIN} or {CLEAR} passwords can be used by the load client", c.UsersFile, fields[0])
				}
			}
			users = append(users, benchUser{name: fields[0], password: pw})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		if len(users) < c.Users {
			return nil, fmt.Errorf("users file %s has %d users, --users wants %d", c.UsersFile, len(users), c.Users)
		}
	} else {
		for i := 0; i < c.Users; i++ {
			users = append(users, benchUser{name: expand(c.UserPattern, i, ""), password: expand(c.PasswordPattern, i, "")})
		}
	}
	for i := range users {
		users[i].maildir = expand(c.MaildirPattern, i, users[i].name)
		if _, err := os.Stat(filepath.Join(users[i].maildir, "new")); err != nil {
			return nil, fmt.Errorf("user %s: Maildir: %w", users[i].name, err)
		}
	}
	return users, nil
}

// readMem reads VmRSS from /proc/<pid>/status and Pss from
// /proc/<pid>/smaps_rollup. pid 0 gives a zero memInfo.
func readMem(pid int) memInfo {
	if pid <= 0 {
		return memInfo{}
	}
	rss, err1 := procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	pss, err2 := procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	return memInfo{RSS: rss, PSS: pss, OK: err1 == nil && err2 == nil}
}

// procField returns the value in kB of the first line starting with key.
func procField(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			var v int64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				return 0, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

func ascending(u []uint32) bool {
	for i := 1; i < len(u); i++ {
		if u[i] <= u[i-1] {
			return false
		}
	}
	return true
}
