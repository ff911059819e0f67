// Package boltguard runs bbolt transactions on a file that another program
// may truncate in place while it is open: the per-folder cache and index of
// maildirbackend, which sit in the user's Maildir, writable by the user,
// while one server process serves every user.
//
// bbolt maps the file into memory. Reading a mapped page past the file's
// new end raises SIGBUS, which the Go runtime turns into the end of the
// process unless the goroutine asked for a panic instead
// ([runtime/debug.SetPanicOnFault]). A [DB] asks for it around every call
// into bbolt (restoring the goroutine's previous setting), recovers the
// panic, and reports [ErrDamaged]; the caller closes the DB and replaces the
// file. Before each transaction the file's size is compared with what it
// was (bbolt never shrinks a file it has open) and with what the
// transaction's meta page says is in use, so that a truncation between two
// transactions is found without touching the lost pages at all.
//
// What a fault leaves behind in bbolt (v1.4), and how it is handled:
//
//   - In Begin, reading the meta pages (Tx.init): the read transaction holds
//     bbolt's metalock and a read lock on its mmaplock, a write transaction
//     its rwlock, and nothing releases them. A DB runs one transaction at a
//     time (its own mutex), so no other goroutine is inside bbolt to wait on
//     them; the DB is marked held, and Close then closes the file (and its
//     flock) without calling bbolt's Close, which would wait for ever. The
//     mapping itself stays until the process ends: address space, and the
//     removed file's remaining pages. Only a truncation racing the size
//     check, between it and Begin, gets here.
//   - In the transaction's body or Commit (cursor reads, spill, the freelist
//     page, a remap in allocate, whose mmaplock is released by its own
//     defer): bbolt's managed View and Update would roll back in a deferred
//     call that reads the freelist page again and faults again, leaving the
//     writer lock held. A DB begins its transactions itself and, after a
//     fault, calls Tx.Rollback, which releases the locks without reading the
//     file; bbolt's Close then works as usual.
//   - In bbolt's freepages (a physical rollback of a file without a synced
//     freelist, after a failed Commit): it begins a read transaction of its
//     own; the frames are looked for on the panicking stack, and the DB is
//     marked held as above.
//
// Before bbolt sees a file, Open takes its flock and reads its meta pages
// (meta.go): a file whose chosen meta has no stored freelist is refused
// (ErrInvalid), because bbolt would rebuild the freelist by walking every
// page (freepages) and report what it finds wrong to a goroutine of its
// own that panics, which no recover reaches; so is a freelist page that is
// not one or names pages out of range, and a file with no valid meta.
//
// Not covered: a file whose meta page another program rewrites in place
// while it is open, to drop the freelist, gets the walk at the rollback of
// a write transaction; and damage that bbolt reads without panicking but
// that is fatal (a branch page that points to itself recurses until the
// stack limit).
package boltguard
