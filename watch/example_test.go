package watch_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// A folder's sync goroutine subscribes, scans, and then drains a Batch on
// every wakeup, re-stating each name or rescanning the whole folder.
func Example() {
	root, err := os.MkdirTemp("", "maildir")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			log.Fatal(err)
		}
	}

	w, err := watch.New(nil) // once per process
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	sub, err := w.Subscribe(root)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	// ... scan the folder here: changes from now on are reported ...

	// An MTA delivers: write into tmp/, then rename into new/.
	tmp := filepath.Join(root, "tmp", "1700000000.M1P1.host")
	if err := os.WriteFile(tmp, []byte("Subject: hi\r\n\r\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "new", "1700000000.M1P1.host")); err != nil {
		log.Fatal(err)
	}

	select {
	case <-sub.Ready():
		b := sub.Drain()
		if b.Rescan {
			fmt.Println("rescan the folder")
		}
		for _, name := range b.Names {
			fmt.Println("re-stat", name)
		}
	case <-time.After(time.Minute):
		fmt.Println("no change seen")
	}
	// Output: re-stat new/1700000000.M1P1.host
}
