package interop

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// cpuTime returns the CPU time all threads of process pid have run so far,
// from /proc/<pid>/task/*/schedstat (nanoseconds, unlike the clock ticks of
// /proc/<pid>/stat). On a machine whose cores are shared, it measures a
// server's work where wall time also measures the other processes.
func cpuTime(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
	}
	var sum time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := bytes.Fields(data)
		if len(f) == 0 {
			return 0, fmt.Errorf("cpu time of %d: schedstat %q", pid, data)
		}
		ns, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time of %d: schedstat %q: %w", pid, data, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// procStat is what newestChild needs of /proc/<pid>/stat.
type procStat struct {
	comm      string
	state     byte
	ppid      int
	starttime int64
}

// readProcStat parses /proc/<pid>/stat; comm may contain spaces and
// parentheses, so the fields after it are found from its last ')'.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	f := bytes.Fields(data[end+1:]) // f[0] is field 3 (state)
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	start, err2 := strconv.ParseInt(string(f[19]), 10, 64) // field 22
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	return procStat{comm: string(data[open+1 : end]), state: f[0][0], ppid: ppid, starttime: start}, nil
}

// newestChild returns the youngest live child of parent named comm:
// Dovecot's imap process of the connection that logged in last.
func newestChild(parent int, comm string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("children of %d: %w", parent, err)
	}
	best, bestStart := 0, int64(-1)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.ppid != parent || st.comm != comm || st.state == 'Z' {
			continue
		}
		if st.starttime > bestStart {
			best, bestStart = pid, st.starttime
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no process %q under %d", comm, parent)
	}
	return best, nil
}
