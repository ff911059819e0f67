package watch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// BenchmarkDeliveryToReady measures the time from rename(2) into new/ to the
// subscription's Ready firing and Drain returning the name.
func BenchmarkDeliveryToReady(b *testing.B) {
	w := newWatcher(b, watch.Options{SafetyInterval: -1})
	folder := makeFolder(b, b.TempDir(), "Maildir")
	s := subscribe(b, w, folder)
	data := []byte("Subject: bench\r\n\r\nbody\r\n")
	i := 0
	for b.Loop() {
		b.StopTimer()
		name := fmt.Sprintf("1700000000.M%dP1.host", i)
		i++
		tmp := filepath.Join(folder, "tmp", name)
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := os.Rename(tmp, filepath.Join(folder, "new", name)); err != nil {
			b.Fatal(err)
		}
		want := "new/" + name
		for found := false; !found; {
			<-s.Ready()
			batch := s.Drain()
			for _, n := range batch.Names {
				found = found || n == want
			}
			found = found || batch.Rescan
		}
	}
}
