package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

// BenchmarkMetadata_set measures SETMETADATA in a Maildir of 1000 folders,
// 100 of which have entries: one that adds an entry (so that the per-user
// limits are checked by reading every folder's metadata file) and one that
// removes one (no check), both with their fsyncs; and a GETMETADATA.
func BenchmarkMetadata_set(b *testing.B) {
	root := filepath.Join(b.TempDir(), "Maildir")
	for i := range 1000 {
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf(".F%d", i), d), 0o700); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	srv := metaServer(b, root, maildirbackend.MetadataOptions{})
	c := srv.Dial(b, nil)
	v := []byte("some value of a folder")
	for i := range 100 {
		if err := c.SetMetadata(fmt.Sprintf("F%d", i*10), map[string]*[]byte{"/private/comment": &v}).Wait(); err != nil {
			b.Fatal(err)
		}
	}
	// add stores a new entry each time (limits checked: every folder's
	// file read); remove takes one away (no check).
	added := 0
	b.Run("SETMETADATA_add", func(b *testing.B) {
		for b.Loop() {
			val := []byte("value")
			if err := c.SetMetadata("INBOX", map[string]*[]byte{fmt.Sprintf("/private/vendor/bench/x%d", added): &val}).Wait(); err != nil {
				b.Fatal(err)
			}
			added++
		}
	})
	b.Run("SETMETADATA_remove", func(b *testing.B) {
		for b.Loop() {
			added--
			if err := c.SetMetadata("INBOX", map[string]*[]byte{fmt.Sprintf("/private/vendor/bench/x%d", max(added, 0)): nil}).Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GETMETADATA", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.GetMetadata("F10", []string{"/private"}, &imapclient.GetMetadataOptions{Depth: imapclient.GetMetadataDepthInfinity}).Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
