// Package folderindex is the persistent index of one Maildir folder: per UID
// the modification sequence (RFC 7162 MODSEQ) of its last change and the
// flags it had then, the folder's HIGHESTMODSEQ and UIDNEXT as last written,
// and the UIDs expunged, in ranges, with the modification sequence of their
// expunge (for VANISHED (EARLIER) and CHANGEDSINCE ... VANISHED).
//
// The index is a bbolt file (a copy-on-write B+tree: a kill -9 at any point
// leaves the state of the last committed transaction). The Maildir stays the
// source of truth: the file can be deleted at any time, and a file that is
// not a valid index, or that belongs to another UIDVALIDITY, is replaced by
// an empty one. A fresh index starts its modification sequences at the
// current time in Unix microseconds, above any value an earlier index of the
// folder could have handed out, so that they only grow.
package folderindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/boltguard"
)

// FileName is the index's name in the folder's control directory.
const FileName = "maildir-imapd.index"

// version is the layout of the file; another version is replaced.
const version = 1

// syncDelay is how long after a commit the file is fsynced: commits do not
// fsync one by one (a delivery burst would pay one fsync per sync step).
// A kill -9 loses nothing the kernel has; a power loss may lose the last
// second, or leave a file that the next open replaces.
const syncDelay = time.Second

// lockWait bounds the wait for another process that holds the index open.
const lockWait = 200 * time.Millisecond

var (
	bucketMeta     = []byte("meta")
	bucketMsgs     = []byte("msgs")
	bucketExpunged = []byte("expunged")

	keyVersion     = []byte("version")
	keyUIDValidity = []byte("uidvalidity")
	keyHighest     = []byte("highestmodseq")
	keyBase        = []byte("base")
	keyUIDNext     = []byte("uidnext")
)

// ErrDamaged means the file was found damaged after it was opened (another
// program truncated it in place, see boltguard): the caller drops the index
// as after a failed write.
var ErrDamaged = boltguard.ErrDamaged

// ErrUnavailable means the index cannot be written (a read-only control
// directory, or another process holds it): the caller keeps its
// modification sequences in memory.
var ErrUnavailable = errors.New("folderindex: index unavailable")

// Flags is a message's flag set as the caller encodes it: system flags as
// bits and keyword letters as bits. The index only compares it.
type Flags struct {
	Std uint8
	Kw  uint32
}

// Entry is what the index holds for one message.
type Entry struct {
	ModSeq uint64
	Flags  Flags
}

// Index is an open index file. Its methods are safe for one goroutine at a
// time (the folder's mutex serializes them), except the background fsync.
type Index struct {
	db   *boltguard.DB
	path string
	log  *slog.Logger

	highest uint64 // HIGHESTMODSEQ as last committed
	base    uint64 // the first modification sequence of this file
	uidNext uint32 // UIDNEXT as last committed

	syncMu    sync.Mutex
	syncTimer *time.Timer
	closed    bool
	syncEach  bool // fsync every commit (the benchmark's comparison)
}

// Open opens the index at path for a folder of the given UIDVALIDITY,
// creating it when missing and replacing it (logged) when it is not a valid
// index of that UIDVALIDITY. It returns ErrUnavailable (wrapped) when the
// file can neither be opened nor created for writing.
func Open(path string, uidValidity uint32, log *slog.Logger) (*Index, error) {
	if log == nil {
		log = slog.Default()
	}
	x, err := openFile(path, uidValidity, log)
	if err == nil || errors.Is(err, ErrUnavailable) {
		return x, err
	}
	log.Warn("replacing the folder index", "path", path, "reason", err)
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: remove %s: %w", ErrUnavailable, path, rerr)
	}
	x, err = openFile(path, uidValidity, log)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return x, err
}

// errInvalid is a file that exists and is not an index of this folder.
var errInvalid = errors.New("not a valid index of this folder")

// openFile opens or creates the file; an error that is not ErrUnavailable
// means the file should be replaced.
//
// bbolt's panics on corrupt pages, and faults on pages truncated away,
// come back from boltguard as errors wrapping boltguard.ErrDamaged.
func openFile(path string, uidValidity uint32, log *slog.Logger) (*Index, error) {
	db, err := boltguard.Open(path, 0o600, &bolt.Options{
		Timeout: lockWait,
		NoSync:  true,
		// The freelist is stored with every commit: a file without one
		// makes bbolt walk every page at open, and report what it finds
		// wrong to a goroutine that panics (boltguard refuses such a
		// file, so one written by an older version is replaced once).
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
		},
	})
	if err != nil {
		if unavailable(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("%w: %w", errInvalid, err)
	}
	x := &Index{db: db, path: path, log: log}
	if err := x.init(uidValidity); err != nil {
		db.Close()
		if unavailable(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, err
	}
	return x, nil
}

// unavailable reports whether err means the file cannot be written at all
// (as opposed to a file that is broken).
func unavailable(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, bolt.ErrTimeout) || errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.ELOOP)
}

// init reads the meta bucket of an existing file, or sets up an empty one.
// It walks every message record once, so that a corrupt page shows at open.
func (x *Index) init(uidValidity uint32) error {
	return x.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketMsgs) != nil || tx.Bucket(bucketExpunged) != nil {
				return fmt.Errorf("%w: no meta bucket", errInvalid)
			}
			return x.create(tx, uidValidity)
		}
		if getU64(meta, keyVersion) != version {
			return fmt.Errorf("%w: version %d", errInvalid, getU64(meta, keyVersion))
		}
		if uv := uint32(getU64(meta, keyUIDValidity)); uv != uidValidity {
			return fmt.Errorf("%w: UIDVALIDITY %d, folder has %d", errInvalid, uv, uidValidity)
		}
		msgs, exp := tx.Bucket(bucketMsgs), tx.Bucket(bucketExpunged)
		if msgs == nil || exp == nil {
			return fmt.Errorf("%w: missing bucket", errInvalid)
		}
		x.highest, x.base = getU64(meta, keyHighest), getU64(meta, keyBase)
		x.uidNext = uint32(getU64(meta, keyUIDNext))
		if x.highest == 0 || x.base == 0 || x.base > x.highest {
			return fmt.Errorf("%w: modseq %d, base %d", errInvalid, x.highest, x.base)
		}
		return msgs.ForEach(func(k, v []byte) error {
			if len(k) != 4 || len(v) != 13 {
				return fmt.Errorf("%w: message record of %d+%d bytes", errInvalid, len(k), len(v))
			}
			return nil
		})
	})
}

// create sets up the buckets of a fresh file.
func (x *Index) create(tx *bolt.Tx, uidValidity uint32) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return fmt.Errorf("create meta: %w", err)
	}
	if _, err := tx.CreateBucket(bucketMsgs); err != nil {
		return fmt.Errorf("create msgs: %w", err)
	}
	if _, err := tx.CreateBucket(bucketExpunged); err != nil {
		return fmt.Errorf("create expunged: %w", err)
	}
	x.base = FreshBase()
	x.highest = x.base
	for k, v := range map[string]uint64{
		string(keyVersion): version, string(keyUIDValidity): uint64(uidValidity),
		string(keyHighest): x.highest, string(keyBase): x.base, string(keyUIDNext): 0,
	} {
		if err := putU64(meta, []byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// FreshBase is the first modification sequence of a new index: the time in
// Unix microseconds, above any value an index of the same folder created
// earlier could have reached at one change per microsecond.
func FreshBase() uint64 {
	return uint64(time.Now().UnixMicro())
}

// HighestModSeq is the folder's HIGHESTMODSEQ as last committed.
func (x *Index) HighestModSeq() uint64 { return x.highest }

// Base is the first modification sequence of this file: the index knows
// nothing of the expunges before it.
func (x *Index) Base() uint64 { return x.base }

// UIDNext is the folder's UIDNEXT as last committed (0 in a fresh file).
func (x *Index) UIDNext() uint32 { return x.uidNext }

// Each calls fn for every message record, in ascending UID order.
func (x *Index) Each(fn func(uid uint32, e Entry)) error {
	err := x.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMsgs).ForEach(func(k, v []byte) error {
			fn(binary.BigEndian.Uint32(k), decodeEntry(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	return nil
}

// Path is the file's path.
func (x *Index) Path() string { return x.path }

// Close fsyncs and closes the file.
func (x *Index) Close() error {
	x.syncMu.Lock()
	x.closed = true
	if x.syncTimer != nil {
		x.syncTimer.Stop()
	}
	x.syncMu.Unlock()
	var err error
	if x.db.Damaged() == nil {
		err = x.db.Sync()
	}
	if cerr := x.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close index: %w", err)
	}
	return nil
}

// scheduleSync fsyncs the file syncDelay after the first commit since the
// last fsync.
func (x *Index) scheduleSync() {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	if x.closed {
		return
	}
	if x.syncTimer == nil {
		x.syncTimer = time.AfterFunc(syncDelay, x.syncNow)
		return
	}
	x.syncTimer.Reset(syncDelay)
}

func (x *Index) syncNow() {
	x.syncMu.Lock()
	defer x.syncMu.Unlock()
	if x.closed {
		return
	}
	if err := x.db.Sync(); err != nil {
		x.log.Warn("fsync of the folder index", "path", x.path, "err", err)
	}
}

func encodeEntry(e Entry) []byte {
	b := make([]byte, 13)
	binary.BigEndian.PutUint64(b, e.ModSeq)
	b[8] = e.Flags.Std
	binary.BigEndian.PutUint32(b[9:], e.Flags.Kw)
	return b
}

func decodeEntry(v []byte) Entry {
	if len(v) != 13 {
		return Entry{}
	}
	return Entry{
		ModSeq: binary.BigEndian.Uint64(v),
		Flags:  Flags{Std: v[8], Kw: binary.BigEndian.Uint32(v[9:])},
	}
}

func uidKey(uid uint32) []byte {
	k := make([]byte, 4)
	binary.BigEndian.PutUint32(k, uid)
	return k
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bolt.Bucket, k []byte, n uint64) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, n)
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("put %s: %w", k, err)
	}
	return nil
}
