package imapd_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// Environment of the idle clients' process (see TestMain).
const (
	idleClientsAddr = "IMAPD_TEST_IDLE_CLIENTS_ADDR"
	idleClientsN    = "IMAPD_TEST_IDLE_CLIENTS_N"
	idleClientsTLS  = "IMAPD_TEST_IDLE_CLIENTS_TLS"
	// idleHeapProfile, when set, names a file for the heap profile of the
	// server with its idle connections (BenchmarkIdleConnMemory).
	idleHeapProfile = "IMAPD_TEST_IDLE_HEAPPROFILE"
)

// TestMain runs the test binary as the idle clients of
// BenchmarkIdleConnMemory when the environment asks for it: the clients
// then live in another process and their memory is not counted as the
// server's.
func TestMain(m *testing.M) {
	if addr := os.Getenv(idleClientsAddr); addr != "" {
		n, _ := strconv.Atoi(os.Getenv(idleClientsN))
		if err := idleClients(addr, n, os.Getenv(idleClientsTLS) == "1"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// idleClients opens n connections to addr that log in, select INBOX and
// idle; it prints "ready" and keeps them until stdin ends.
func idleClients(addr string, n int, useTLS bool) error {
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := idleClient(addr, useTLS)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

func idleClient(addr string, useTLS bool) (net.Conn, error) {
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReaderSize(c, 1024)
	if _, err := br.ReadString('\n'); err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "a LOGIN %s %s\r\nb SELECT INBOX\r\nc IDLE\r\n", maildirtest.User, maildirtest.Password)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("setting up an idle client: %w", err)
		}
		if strings.HasPrefix(l, "+ ") {
			break
		}
		if strings.HasPrefix(l, "a NO") || strings.HasPrefix(l, "b NO") || strings.HasPrefix(l, "c BAD") {
			return nil, fmt.Errorf("setting up an idle client: %q", l)
		}
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// BenchmarkIdleConnMemory reports the server memory an idle connection
// costs (LOGIN, SELECT INBOX of a 5-message Maildir, IDLE), plain and over
// implicit TLS through the daemon's listener: b.N connections come from
// another process, and the server's live heap and goroutine stacks (after
// a GC) grow by B/conn each. Run it with -benchtime 2000x.
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 2000x ./imapd/
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) { benchIdleMemory(b, useTLS) })
	}
}

func benchIdleMemory(b *testing.B, useTLS bool) {
	if os.Getenv(idleHeapProfile) != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	srv := maildirtest.NewServer(b, &maildirtest.Options{Frontend: "imapd"})
	deliverN(b, srv, 5)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	lo := &maildirbackend.ListenerOptions{Unbatched: true}
	if useTLS {
		lo.TLSConfig = testTLSConfig(b)
	}
	ln = maildirbackend.NewListenerWith(ln, lo)
	is := imapd.New(&imapd.Options{NewSession: srv.Backend.NewEngineSession, InsecureAuth: true})
	go is.Serve(ln)
	b.Cleanup(func() { is.Close() })
	// Open the folder once, so that its state is not counted.
	c := dialPipe(b, srv.Addr)
	c.login()

	before := liveMemory()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), idleClientsAddr+"="+ln.Addr().String(), idleClientsN+"="+strconv.Itoa(b.N),
		idleClientsTLS+"="+map[bool]string{true: "1", false: "0"}[useTLS])
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if l, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || l != "ready\n" {
		b.Fatalf("idle clients: %q, %v", l, err)
	}
	b.StopTimer()
	after := liveMemory()
	if p := os.Getenv(idleHeapProfile); p != "" {
		f, err := os.Create(p + "." + b.Name()[strings.LastIndexByte(b.Name(), '/')+1:])
		if err != nil {
			b.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	b.ReportMetric(float64(after.heap-before.heap)/float64(b.N), "heap-B/conn")
	b.ReportMetric(float64(after.stack-before.stack)/float64(b.N), "stack-B/conn")
	b.ReportMetric(float64(after.heap+after.stack-before.heap-before.stack)/float64(b.N), "B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(b.N), "goroutines/conn")
}

type memFigures struct{ heap, stack, goroutines int64 }

// liveMemory returns the live heap and the goroutine stacks after a GC.
func liveMemory() memFigures {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{int64(ms.HeapAlloc), int64(ms.StackInuse), int64(runtime.NumGoroutine())}
}
