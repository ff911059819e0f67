package maildirbackend_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/folderindex"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// The cost of the folder index (modseq.go): a delivery burst the watcher
// reports, and the first SELECT of a large folder by a new server, each
// with and without the index.

func indexModes() []bool { return []bool{true, false} }

func indexName(on bool) string {
	if on {
		return "index=on"
	}
	return "index=off"
}

// benchConn is a raw, logged-in connection for benchmarks.
type benchConn struct {
	b   *testing.B
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func dialBench(b *testing.B, s *maildirtest.Server) *benchConn {
	b.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchConn{b: b, c: c, r: bufio.NewReader(c)}
	bc.line() // greeting
	bc.cmd("LOGIN " + maildirtest.User + " " + maildirtest.Password)
	return bc
}

func (bc *benchConn) line() string {
	bc.b.Helper()
	l, err := bc.r.ReadString('\n')
	if err != nil {
		bc.b.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (bc *benchConn) cmd(line string) []string {
	bc.b.Helper()
	bc.tag++
	tag := "b" + strconv.Itoa(bc.tag)
	fmt.Fprintf(bc.c, "%s %s\r\n", tag, line)
	var out []string
	for {
		l := bc.line()
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				bc.b.Fatalf("%s: %s", line, l)
			}
			return out
		}
		out = append(out, l)
	}
}

// BenchmarkIndex_deliveryBurst delivers 200 messages MTA-style into an
// INBOX a client idles on and waits for the EXISTS that counts them all:
// per delivery, with and without the index.
func BenchmarkIndex_deliveryBurst(b *testing.B) {
	const burst = 200
	for _, on := range indexModes() {
		b.Run(indexName(on), func(b *testing.B) {
			maildirbackend.SetIndexOff(!on)
			defer maildirbackend.SetIndexOff(false)
			s := maildirtest.NewServer(b, &maildirtest.Options{Frontend: "imapd"})
			c := dialBench(b, s)
			c.cmd("SELECT INBOX")
			msg := maildirtest.Message("burst")
			total := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.tag++
				tag := "b" + strconv.Itoa(c.tag)
				fmt.Fprintf(c.c, "%s IDLE\r\n", tag)
				for !strings.HasPrefix(c.line(), "+ ") {
				}
				for j := 0; j < burst; j++ {
					maildirtest.Deliver(b, s.Maildir, msg)
				}
				total += burst
				want := fmt.Sprintf("* %d EXISTS", total)
				for c.line() != want {
				}
				fmt.Fprintf(c.c, "DONE\r\n")
				for !strings.HasPrefix(c.line(), tag+" ") {
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/delivery")
		})
	}
}

// BenchmarkIndex_selectCold is the first SELECT of a folder in a new
// process (a child: this test binary, TestIndexSelectChild), which reads
// the folder from disk and opens and reconciles the index, on
// MAILDIR_IMAPD_BENCH_N messages (100,000 unless set), with and without
// the index. The first server numbers the files and writes the index,
// untimed. "select-ns" is the SELECT alone, as the child timed it.
func BenchmarkIndex_selectCold(b *testing.B) {
	n := 100000
	if v := os.Getenv("MAILDIR_IMAPD_BENCH_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	root := benchMaildir(b, n)
	s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{FolderLinger: -1}, Frontend: "imapd"})
	dialBench(b, s).cmd("SELECT INBOX (CONDSTORE)")
	s.Close()
	waitIndexFreeB(b, filepath.Join(root, folderindex.FileName))
	for _, on := range indexModes() {
		b.Run(fmt.Sprintf("n=%d/%s", n, indexName(on)), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestIndexSelectChild$")
				cmd.Env = append(os.Environ(), "MAILDIR_IMAPD_SELECT_CHILD="+root, "MAILDIR_IMAPD_SELECT_INDEX="+indexName(on))
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				_, v, ok := strings.Cut(string(out), "select-ns ")
				if !ok {
					b.Fatalf("child said: %s", out)
				}
				ns, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				total += time.Duration(ns)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "select-ns")
		})
	}
}

// TestIndexSelectChild is BenchmarkIndex_selectCold's child process (it
// does nothing otherwise): it serves the Maildir, times one SELECT and
// prints it.
func TestIndexSelectChild(t *testing.T) {
	root := os.Getenv("MAILDIR_IMAPD_SELECT_CHILD")
	if root == "" {
		return
	}
	maildirbackend.SetIndexOff(os.Getenv("MAILDIR_IMAPD_SELECT_INDEX") == indexName(false))
	s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Frontend: "imapd"})
	c := fxDial(t, s)
	start := time.Now()
	c.cmd("SELECT INBOX (CONDSTORE)")
	fmt.Printf("select-ns %d\n", time.Since(start).Nanoseconds())
}

func waitIndexFreeB(b *testing.B, path string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		x, err := os.Open(path)
		if err != nil {
			return
		}
		ok := flockFree(x)
		x.Close()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("index still held")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
