package maildirbackend_test

import (
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

// Example plugs the backend into go-imap's server: one Backend for the
// process, its NewSession and Caps in imapserver.Options, and its listener
// wrapper around the net.Listener.
func Example() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	maildir := filepath.Join(root, "Maildir") // created on first login

	b, err := maildirbackend.New(&maildirbackend.Options{
		Authenticate: func(user, pass string) (string, error) {
			if user == "alice" && pass == "secret" {
				return maildir, nil
			}
			return "", imapserver.ErrAuthFailed
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	srv := imapserver.New(&imapserver.Options{
		NewSession:   b.NewSession,
		Caps:         b.Caps(),
		InsecureAuth: true, // loopback only; use TLSConfig otherwise
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(maildirbackend.NewListener(ln))
	defer srv.Close()

	c, err := imapclient.DialInsecure(ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		log.Fatal(err)
	}
	if err := c.Create("Archive", nil).Wait(); err != nil {
		log.Fatal(err)
	}
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("INBOX messages:", data.NumMessages)
	_, err = os.Stat(filepath.Join(maildir, ".Archive", "maildirfolder"))
	fmt.Println("Archive is a Maildir++ folder:", err == nil)
	// Output:
	// INBOX messages: 0
	// Archive is a Maildir++ folder: true
}
