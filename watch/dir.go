package watch

// flatSuffix marks the key of a directory watched by SubscribeDir in
// Watcher.folders, so that the Maildir root can be watched both as INBOX
// (its new/ and cur/) and as the directory holding the other folders.
const flatSuffix = "\x00dir"

// SubscribeDir watches the directory dir itself, not its new/ and cur/: the
// names of the entries created, removed or renamed in it are queued, without
// a directory prefix ("subscriptions", ".Work"). It serves what a Maildir
// root holds besides INBOX's messages: the folder directories (Maildir++
// ".Name") and the subscriptions file. notify is called as for
// [Watcher.SubscribeFunc] and may be nil (use Ready). A directory that
// cannot get an inotify watch, or is on a network file system, is polled
// as folders are; a changed signature (mtime, ctime, size, inode) gives a
// Batch with Rescan.
func (w *Watcher) SubscribeDir(dir string, notify func()) (*Subscription, error) {
	return w.subscribe(dir, notify, true)
}
