package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/selfsigned"
	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/testenv"
)

// A real nginx mail proxy (Debian's nginx with libnginx-mod-mail) in front
// of two maildir-imapd backends on loopback, each serving its own user, and
// a third maildir-imapd answering nginx's auth_http: the set-up of
// contrib/nginx/, without TLS on the proxy.
//
// Addresses: nginx connects to the backends from 127.0.0.1, the trusted
// proxy, which must send a PROXY header; the tests' clients connect to
// nginx from 127.0.0.3, the "real" client address the backends must log;
// direct connections to a backend come from 127.0.0.2, an untrusted
// address, which sends no header.

// mailModule is where Debian's libnginx-mod-mail installs the module.
const mailModule = "/usr/lib/nginx/modules/ngx_mail_module.so"

// Source addresses of the tests' connections (see above).
var (
	clientSource = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}
	directSource = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
)

// proxyUser is a user of the proxied set-up.
type proxyUser struct {
	name, pass string
	maildir    string
	backend    *opsDaemon
}

// proxyEnv is nginx, the auth_http director and two backends.
type proxyEnv struct {
	nginxAddr    string      // STARTTLS only
	nginxTLSAddr string      // implicit TLS
	tls          *tls.Config // trusts nginx's certificate
	nginxLog     string      // nginx's error log file
	director     *opsDaemon
	alice        proxyUser // on backend A, routed by the users file's host= and port=
	bob          proxyUser // on backend B, routed by its domain in backends
}

// startProxyEnv starts the set-up, stopping everything at cleanup.
func startProxyEnv(tb testing.TB) *proxyEnv {
	tb.Helper()
	nginx := testenv.Tool(tb, "nginx", "nginx")
	testenv.File(tb, mailModule, "libnginx-mod-mail")
	dir := tb.TempDir()
	env := &proxyEnv{
		alice: proxyUser{name: "alice@a.test", pass: "alice pass"},
		bob:   proxyUser{name: "bob@b.test", pass: "bob pass"},
	}
	for _, u := range []*proxyUser{&env.alice, &env.bob} {
		home := filepath.Join(dir, "home", u.name)
		u.maildir = filepath.Join(home, "Maildir")
		makeMaildirTB(tb, u.maildir)
		// Each backend knows only its own user.
		users := writeTB(tb, filepath.Join(dir, u.name+".users"), passwdLine(*u, home, ""))
		u.backend = startOps(tb, "backend "+u.name, fmt.Sprintf(
			"users = %q\nlisten = \"127.0.0.1:0\"\nproxy_trusted = [\"127.0.0.1/32\"]\n", users))
	}
	aliceHost, alicePort, _ := net.SplitHostPort(env.alice.backend.addr)
	users := writeTB(tb, filepath.Join(dir, "director.users"),
		passwdLine(env.alice, filepath.Join(dir, "home", env.alice.name), "host="+aliceHost+" port="+alicePort)+
			passwdLine(env.bob, filepath.Join(dir, "home", env.bob.name), ""))
	env.director = startOps(tb, "director", fmt.Sprintf(
		"users = %q\nlisten = \"127.0.0.1:0\"\nauth_http_listen = \"127.0.0.1:0\"\n"+
			"backends = [\"b.test=%s\"]\nauth_failure_delay = \"1s\"\n", users, env.bob.backend.addr))

	env.nginxLog = filepath.Join(dir, "error.log")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool, err := selfsigned.Write(cert, key, "nginx e2e")
	if err != nil {
		tb.Fatal(err)
	}
	env.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	// nginx cannot report a port the kernel chose: ports free a moment ago
	// are taken, and taken again if another test got one meanwhile.
	for try := 1; ; try++ {
		env.nginxAddr, env.nginxTLSAddr = freeAddr(tb), freeAddr(tb)
		conf := writeTB(tb, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`load_module %s;
worker_processes 1;
error_log %s info;
pid %s;
events { worker_connections 128; }
%s`, mailModule, env.nginxLog, filepath.Join(dir, "nginx.pid"), contribMailConf(tb, map[string]string{
			"auth_http 127.0.0.1:9143/auth;": "auth_http " + env.director.opsAddrs["auth_http"] + "/auth;",
			"listen 143;":                    "listen " + env.nginxAddr + ";",
			"listen 993 ssl;":                "listen " + env.nginxTLSAddr + " ssl;",
			"ssl_certificate /etc/ssl/certs/mail.example.org.pem;":       "ssl_certificate " + cert + ";",
			"ssl_certificate_key /etc/ssl/private/mail.example.org.key;": "ssl_certificate_key " + key + ";",
		})))
		out, err := startNginx(tb, nginx, conf, dir, env.nginxAddr)
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(out, "Address already in use") {
			log, _ := os.ReadFile(env.nginxLog)
			tb.Fatalf("nginx: %v\n%s\nnginx error log:\n%s", err, out, log)
		}
	}
	return env
}

// startNginx runs nginx with conf in the foreground until the test ends,
// and waits until addr greets. When nginx exits first, it returns an
// error and nginx's output.
func startNginx(tb testing.TB, nginx, conf, dir, addr string) (string, error) {
	tb.Helper()
	cmd := exec.Command(nginx, "-c", conf, "-p", dir, "-g", "daemon off;")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	timeout := time.After(deadline)
	for probe(addr, false) != nil {
		select {
		case <-exited:
			return out.String(), fmt.Errorf("exited before greeting on %s", addr)
		case <-timeout:
			_ = cmd.Process.Kill()
			<-exited
			return out.String(), fmt.Errorf("no greeting on %s within %v", addr, deadline)
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful stop
		select {
		case <-exited:
		case <-time.After(deadline):
			_ = cmd.Process.Kill()
			<-exited
		}
		if tb.Failed() {
			tb.Logf("nginx output:\n%s", out.String())
		}
	})
	return "", nil
}

// contribMailConf returns contrib/nginx/mail.conf with each key of edits
// replaced by its value: the test runs the configuration operators copy,
// on loopback addresses and a test certificate. A key missing from the
// file fails the test, so that the file and the test cannot drift apart.
func contribMailConf(tb testing.TB, edits map[string]string) string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "contrib", "nginx", "mail.conf"))
	if err != nil {
		tb.Fatal(err)
	}
	conf := string(data)
	for from, to := range edits {
		if strings.Count(conf, from) != 1 {
			tb.Fatalf("contrib/nginx/mail.conf: %q is not there once", from)
		}
		conf = strings.Replace(conf, from, to, 1)
	}
	return conf
}

// passwdLine is u's users-file line with the extra fields extra.
func passwdLine(u proxyUser, home, extra string) string {
	return fmt.Sprintf("%s:{PLAIN}%s::::%s::%s\n", u.name, u.pass, home, extra)
}

// freeAddr returns a loopback address with a port free a moment ago, for
// nginx, which cannot report a port chosen by the kernel.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// How dialFrom secures a connection.
const (
	plainConn = iota
	startTLSConn
	implicitTLSConn
)

// dialFrom connects go-imap's client to addr from the source address src,
// in plain, with STARTTLS or with implicit TLS (trusting env.tls); onExists,
// if not nil, is called with each EXISTS count it is told.
func (env *proxyEnv) dialFrom(tb testing.TB, src *net.TCPAddr, addr string, mode int, onExists func(uint32)) *imapclient.Client {
	tb.Helper()
	d := net.Dialer{LocalAddr: src, Timeout: deadline}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s from %s: %v", addr, src.IP, err)
	}
	opts := &imapclient.Options{
		TLSConfig: env.tls,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil && onExists != nil {
					onExists(*m.NumMessages)
				}
			},
		},
	}
	var c *imapclient.Client
	switch mode {
	case startTLSConn:
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			tb.Fatalf("STARTTLS with %s: %v", addr, err)
		}
	case implicitTLSConn:
		c = imapclient.New(tls.Client(conn, env.tls), opts)
	default:
		c = imapclient.New(conn, opts)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestNginx_proxy(t *testing.T) {
	env := startProxyEnv(t)

	// Each user lands on the backend that has the user's Maildir, and
	// sees a delivery made there pushed through the proxy.
	// alice comes with implicit TLS (993), bob with STARTTLS (143).
	for _, u := range []proxyUser{env.alice, env.bob} {
		t.Run(u.name, func(t *testing.T) {
			exists := make(chan uint32, 16)
			addr, mode := env.nginxTLSAddr, implicitTLSConn
			if u.name == env.bob.name {
				addr, mode = env.nginxAddr, startTLSConn
			}
			c := env.dialFrom(t, clientSource, addr, mode, func(n uint32) { exists <- n })
			if err := c.Login(u.name, u.pass).Wait(); err != nil {
				t.Fatalf("LOGIN through nginx: %v", err)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			idle, err := c.Idle()
			if err != nil {
				t.Fatal(err)
			}
			deliver(t, u.maildir, message("Through nginx", "Pushed via the proxy."))
			waitFor(t, exists, "* 1 EXISTS through nginx", func(n uint32) bool { return n == 1 })
			if err := idle.Close(); err != nil {
				t.Fatal(err)
			}
			if err := idle.Wait(); err != nil {
				t.Fatal(err)
			}
			// The backend logged the client's address, not nginx's.
			u.backend.waitLog(t, func(r logRecord) bool {
				return r.Msg == "login" && r.User == u.name && strings.HasPrefix(r.Conn, clientSource.IP.String()+":")
			}, "login of "+u.name+" from "+clientSource.IP.String())
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		c := env.dialFrom(t, clientSource, env.nginxTLSAddr, implicitTLSConn, nil)
		start := time.Now()
		err := c.Login(env.alice.name, "wrong").Wait()
		if err == nil || !strings.Contains(err.Error(), "Invalid login or password") {
			t.Fatalf("LOGIN with a wrong password: %v", err)
		}
		t.Logf("wrong password answered through nginx after %v (auth_failure_delay 1s as Auth-Wait)", time.Since(start).Round(time.Millisecond))
		env.director.waitLog(t, func(r logRecord) bool {
			return r.Msg == "auth_http refused" && r.User == env.alice.name && r.AuthWait == 1
		}, "auth_http answer with Auth-Wait: 1")
		// With Auth-Wait nginx keeps the connection: the client may retry.
		if err := c.Login(env.alice.name, env.alice.pass).Wait(); err != nil {
			t.Fatalf("LOGIN after a failure, on the same connection: %v", err)
		}
	})

	t.Run("direct client", func(t *testing.T) {
		// Not from the trusted proxy, without a header: served as it is.
		c := env.dialFrom(t, directSource, env.bob.backend.addr, plainConn, nil)
		if err := c.Login(env.bob.name, env.bob.pass).Wait(); err != nil {
			t.Fatalf("direct LOGIN: %v", err)
		}
		env.bob.backend.waitLog(t, func(r logRecord) bool {
			return r.Msg == "login" && strings.HasPrefix(r.Conn, directSource.IP.String()+":")
		}, "direct login from "+directSource.IP.String())
	})

	t.Run("trusted without header", func(t *testing.T) {
		// From 127.0.0.1, the proxy's address, a client that speaks
		// without a header is closed without a greeting.
		conn, err := net.DialTimeout("tcp", env.alice.backend.addr, deadline)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(deadline))
		if _, err := conn.Write([]byte("a1 CAPABILITY\r\n")); err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(conn); len(got) != 0 {
			t.Fatalf("a headerless connection from the trusted proxy was served: %q", got)
		}
		env.alice.backend.waitLog(t, func(r logRecord) bool {
			return r.Msg == "connection refused" && strings.Contains(r.Reason, "no PROXY protocol header")
		}, "refusal of a headerless connection from the proxy")
	})
}

// BenchmarkNginx_push measures a push, from the rename of a delivery into
// new/ to "* N EXISTS" at an IDLE client, for two clients idling on the
// same INBOX: one connected to the backend directly (plain), one through
// nginx (implicit TLS on the proxy, as clients connect).
// Both see every delivery, so load on the machine affects both alike; the
// difference of the means is the proxy's added latency. ns/op is the time
// until both have seen it. Run with
// go test -run '^$' -bench Nginx ./cmd/maildir-imapd/e2e/
func BenchmarkNginx_push(b *testing.B) {
	env := startProxyEnv(b)
	u := env.alice
	type seen struct {
		n  uint32
		at time.Time
	}
	paths := []struct {
		addr string
		src  *net.TCPAddr
		mode int
	}{{u.backend.addr, directSource, plainConn}, {env.nginxTLSAddr, clientSource, implicitTLSConn}}
	var chans [2]chan seen
	var idles [2]*imapclient.IdleCommand
	var n uint32
	for i, p := range paths {
		ch := make(chan seen, 1024)
		chans[i] = ch
		c := env.dialFrom(b, p.src, p.addr, p.mode, func(n uint32) { ch <- seen{n, time.Now()} })
		if err := c.Login(u.name, u.pass).Wait(); err != nil {
			b.Fatal(err)
		}
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			b.Fatal(err)
		}
		n = sel.NumMessages
		if idles[i], err = c.Idle(); err != nil {
			b.Fatal(err)
		}
	}
	var sum [2]time.Duration
	b.ResetTimer()
	for range b.N {
		n++
		start := time.Now()
		deliver(b, u.maildir, message("Bench", "Push."))
		for i, ch := range chans {
			for got := (seen{}); got.n != n; {
				select {
				case got = <-ch:
					sum[i] += got.at.Sub(start)
				case <-time.After(deadline):
					b.Fatalf("no * %d EXISTS within %v", n, deadline)
				}
			}
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(sum[0]), "direct-µs/push")
	b.ReportMetric(per(sum[1]), "nginx-µs/push")
	b.ReportMetric(per(sum[1]-sum[0]), "added-µs/push")
	for _, idle := range idles {
		_ = idle.Close()
		_ = idle.Wait()
	}
}
