package boltguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("b")

// filled opens a new file holding enough records for about 130 pages.
func filled(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.db")
	d, err := Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "key%06d", i), make([]byte, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, path
}

// readAll reads every record.
func readAll(tx *bolt.Tx) error {
	n := 0
	err := tx.Bucket(bucket).ForEach(func(k, v []byte) error { n += len(v); return nil })
	if err == nil && n != 2000*200 {
		err = fmt.Errorf("read %d bytes", n)
	}
	return err
}

func writeMore(tx *bolt.Tx) error {
	for i := range 2000 {
		if err := tx.Bucket(bucket).Put(fmt.Appendf(nil, "key%06d", i), make([]byte, 210)); err != nil {
			return err
		}
	}
	return nil
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if size < 0 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size = fi.Size() / 2 / 4096 * 4096
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestDB_truncated truncates the file in place between transactions (the
// size check finds it, or with the check off the meta pages fault in
// Begin) and within one (its reads fault), and checks that the process
// lives, the error is ErrDamaged, Close returns, the goroutine's fault
// setting is restored, and a new file at the path works.
func TestDB_truncated(t *testing.T) {
	tests := []struct {
		name     string
		size     int64 // -1: half
		checked  bool  // size check on
		during   bool  // truncate within the transaction
		writable bool
		held     bool // bbolt's locks left held: Close skips bbolt's
	}{
		{name: "checked/view", size: 10, checked: true},
		{name: "checked/update", size: 10, checked: true, writable: true},
		{name: "checked/half", size: -1, checked: true},
		{name: "beginFault/view", size: 10, held: true},
		{name: "beginFault/update", size: 10, writable: true, held: true},
		{name: "readFault/view", size: -1},
		{name: "readFault/update", size: -1, writable: true},
		{name: "during/view", size: 10, checked: true, during: true},
		{name: "during/update", size: 10, checked: true, during: true, writable: true},
		{name: "duringHalf/update", size: -1, checked: true, during: true, writable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer SetSizeCheck(tc.checked)()
			d, path := filled(t)
			other, _ := filled(t)
			defer other.Close()
			if !tc.during {
				truncate(t, path, tc.size)
			}
			fn := func(tx *bolt.Tx) error {
				if tc.during {
					truncate(t, path, tc.size)
				}
				if tc.writable {
					return writeMore(tx)
				}
				return readAll(tx)
			}
			debug.SetPanicOnFault(false)
			var err error
			if tc.writable {
				err = d.Update(fn)
			} else {
				err = d.View(fn)
			}
			if debug.SetPanicOnFault(false) {
				t.Fatal("the goroutine's fault setting was not restored")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want ErrDamaged", err)
			}
			t.Log(err)
			if again := d.View(readAll); !errors.Is(again, ErrDamaged) {
				t.Fatalf("a damaged DB ran a transaction: %v", again)
			}
			if d.held != tc.held {
				t.Fatalf("held %v, want %v", d.held, tc.held)
			}
			closed := make(chan error, 1)
			go func() { closed <- d.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Close hangs")
			}
			// The other file, and a new one at the path, work.
			if err := other.View(readAll); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			d2, err := Open(path, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatalf("a new file at the path: %v", err)
			}
			defer d2.Close()
			if err := d2.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpen_truncatedWhileClosed: a file cut while no one had it open
// (meta pages intact, pages they name gone) is refused at open, before
// bbolt reads a lost page.
func TestOpen_truncatedWhileClosed(t *testing.T) {
	d, path := filled(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	truncate(t, path, -1)
	d, err := Open(path, 0o600, nil)
	if err == nil {
		d.Close()
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("open: %v, want ErrInvalid", err)
	}
}
