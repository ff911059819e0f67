package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/selfsigned"

	"github.com/emersion/go-imap/v2/imapclient"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and
// localhost and its key as PEM files into dir.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool, err := selfsigned.Write(certFile, keyFile, "maildir-imapd e2e")
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestTLS_implicitAndStartTLS(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	root := filepath.Join(t.TempDir(), "Maildir")
	makeMaildir(t, root, "Sent")
	putMessage(t, root, "cur", "S", message("Over TLS", "Encrypted."))
	certFile, keyFile, pool := writeSelfSigned(t, t.TempDir())
	d := startDaemon(t, singleUserConfig(root,
		fmt.Sprintf("tls_cert = %q", certFile), fmt.Sprintf("tls_key = %q", keyFile)))
	user := testUser + ":" + testPass

	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout, then of stderr (-v trace)
		wire []string
	}{{
		name: "implicitTLSVerified",
		args: []string{"--cacert", certFile, "--url", "imaps://" + d.TLSAddr + "/"},
		want: []string{"INBOX", `\Sent) "." `},
		wire: []string{"SSL connection using"},
	}, {
		name: "implicitTLSInsecure",
		args: []string{"--insecure", "--url", "imaps://" + d.TLSAddr + "/INBOX", "-X", "UID FETCH 1:* FLAGS"},
		want: []string{`\Seen`},
	}, {
		name: "startTLSRequired",
		args: []string{"--ssl-reqd", "--cacert", certFile, "--url", "imap://" + d.Addr + "/"},
		want: []string{"INBOX", `\Sent) "." `},
		wire: []string{"STARTTLS", "SSL connection using"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-sS", "-v", "--user", user}, tt.args...)
			res := runTool(t, nil, curl, args...)
			if res.code != 0 {
				t.Fatalf("curl %q: %v", tt.args, res)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("curl %q: output lacks %q:\n%v", tt.args, w, res)
				}
			}
			for _, w := range tt.wire {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("curl %q: trace lacks %q:\n%v", tt.args, w, res)
				}
			}
		})
	}

	// go-imap's client, verifying the certificate, over both listeners.
	opts := &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	for name, dial := range map[string]func() (*imapclient.Client, error){
		"imapclientImplicitTLS": func() (*imapclient.Client, error) { return imapclient.DialTLS(d.TLSAddr, opts) },
		"imapclientStartTLS":    func() (*imapclient.Client, error) { return imapclient.DialStartTLS(d.Addr, opts) },
	} {
		t.Run(name, func(t *testing.T) {
			c, err := dial()
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if err := c.Login(testUser, testPass).Wait(); err != nil {
				t.Fatalf("LOGIN: %v", err)
			}
			sel, err := c.Select("INBOX", nil).Wait()
			if err != nil {
				t.Fatalf("SELECT: %v", err)
			}
			if sel.NumMessages != 1 {
				t.Errorf("SELECT INBOX: %d messages, want 1", sel.NumMessages)
			}
			if err := c.Logout().Wait(); err != nil {
				t.Errorf("LOGOUT: %v", err)
			}
		})
	}
}
