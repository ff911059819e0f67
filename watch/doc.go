// Package watch owns the process-wide filesystem watcher over Maildir folders.
//
// One [Watcher] holds a single fsnotify (inotify) instance for the whole process
// and watches the new/ and cur/ directories of every subscribed folder. A
// folder's watches are reference-counted: [Watcher.Subscribe] adds them for the
// first [Subscription] and [Subscription.Close] of the last one removes them.
//
// An event only says "look here" (reconcile state, don't translate events):
// each Subscription accumulates the changed names ("new/<file>", "cur/<file>")
// and signals its cap-1 [Subscription.Ready] channel at once, without any
// fixed delay. Names pile up while the consumer is busy, and
// [Subscription.Drain] returns them all as one [Batch]. When names cannot be
// trusted to be complete (kernel queue overflow, too many pending names, a
// watched directory removed, polling) the Batch says Rescan instead.
//
// The Watcher never blocks on consumers. When inotify is unavailable (no
// instance can be created, the watch limit or [Options.MaxWatches] is reached)
// folders are polled with stat(2) every [Options.PollInterval]. Even with
// inotify, a safety check stats new/ and cur/ of every folder every
// [Options.SafetyInterval], because network filesystems deliver no events for
// changes made by other hosts.
//
// A folder on a network file system (NFS, SMB/CIFS, FUSE such as sshfs or
// glusterfs, 9p, Ceph, AFS, cluster file systems), found by statfs(2), keeps
// its watches for local changes and is polled every PollInterval from the
// start as well, logged once per folder.
//
// Package watch imports only fsnotify and golang.org/x/sys/unix (statfs),
// and its exported API exposes none of fsnotify's types.
package watch
