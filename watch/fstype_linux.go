package watch

import "golang.org/x/sys/unix"

// networkFS names the file systems (statfs f_type) on which inotify sees
// only the changes made through this machine's mount: network and cluster
// file systems, and FUSE (sshfs, glusterfs, s3fs and others run there).
var networkFS = map[int64]string{
	unix.NFS_SUPER_MAGIC:   "nfs",
	unix.SMB_SUPER_MAGIC:   "smb",
	unix.SMB2_SUPER_MAGIC:  "smb2",
	unix.CIFS_SUPER_MAGIC:  "cifs",
	unix.FUSE_SUPER_MAGIC:  "fuse",
	unix.V9FS_MAGIC:        "9p",
	unix.CEPH_SUPER_MAGIC:  "ceph",
	unix.AFS_SUPER_MAGIC:   "afs",
	unix.AFS_FS_MAGIC:      "afs",
	unix.CODA_SUPER_MAGIC:  "coda",
	unix.NCP_SUPER_MAGIC:   "ncp",
	unix.OCFS2_SUPER_MAGIC: "ocfs2",
	0x01161970:             "gfs2",   // GFS2_MAGIC, not in x/sys/unix
	0x0bd00bd0:             "lustre", // LL_SUPER_MAGIC
}

// NetworkFS returns the name of the network file system path is on
// ("nfs", "cifs", "fuse", ...), whose folders a [Watcher] polls as well as
// watches, or "" for a local one (or when statfs fails).
func NetworkFS(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return ""
	}
	return networkFS[int64(st.Type)]
}
