package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// Whose identity the process uses for the users' files.
//
// One process serves every user and reads and writes their files itself;
// Go cannot switch a single goroutine to another uid (setuid applies to the
// whole process), so the server cannot act as each of several system
// users. It therefore:
//
//   - started as root, with users that all name one uid (virtual users
//     under a vmail account), drops to that uid and gid once its ports are
//     bound and its TLS key is read, as Dovecot's mail processes run as the
//     user;
//   - started as root, with users naming several uids (system users),
//     refuses to start: run one instance per system user, or give the
//     users one mail uid;
//   - started as root with no uid in the users file, stays root and warns
//     (the checks that no name, symbolic link or FIFO leads out of a
//     Maildir still hold, but a mistake would expose every user);
//   - in single-user mode as root, drops to the owner of the Maildir;
//   - not root, refuses the login of a user whose uid is not its own
//     (Dovecot fails such a login too: it cannot set the uid).

// identityPlan is what the process does about its identity.
type identityPlan struct {
	drop *passwdfile.Owner // switch to this owner; nil: keep the identity
	warn string            // logged at Warn when not empty
}

// planIdentity decides, for a process running as euid, from the owners the
// users file names.
func planIdentity(euid int, owners []passwdfile.Owner) (identityPlan, error) {
	if euid != 0 {
		return identityPlan{}, nil
	}
	switch len(owners) {
	case 0:
		return identityPlan{warn: "running as root and no user has a uid: every user's files are accessed as root; give the users the uid of a mail account (a vmail user) so that the server drops root"}, nil
	case 1:
		o := owners[0]
		if o.UID == 0 {
			return identityPlan{warn: "the users' uid is 0: mail files are accessed as root"}, nil
		}
		return identityPlan{drop: &o}, nil
	}
	return identityPlan{}, fmt.Errorf("running as root, the users file names %d different uids: one process cannot act as each of them; run one instance per system user, or give every user the uid of one mail account", len(owners))
}

// ownerOfDir returns the owner of a directory, for single-user mode.
func ownerOfDir(path string) (passwdfile.Owner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return passwdfile.Owner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return passwdfile.Owner{}, errors.New("no owner information")
	}
	return passwdfile.Owner{UID: int(st.Uid), GID: int(st.Gid)}, nil
}

// dropTo switches the whole process to owner o: no supplementary groups,
// then the gid, then the uid. A gid left empty is the uid's primary group.
func dropTo(o passwdfile.Owner, logger *slog.Logger) error {
	gid := o.GID
	if gid < 0 {
		u, err := user.LookupId(strconv.Itoa(o.UID))
		if err != nil {
			return fmt.Errorf("drop privileges: uid %d has no gid in the users file and no account: %w", o.UID, err)
		}
		if gid, err = strconv.Atoi(u.Gid); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("drop privileges: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(o.UID); err != nil {
		return fmt.Errorf("drop privileges: setuid %d: %w", o.UID, err)
	}
	logger.Info("dropped root privileges", "uid", o.UID, "gid", gid)
	return nil
}

// checkOwner refuses a user whose uid the process cannot honour: not its
// own (errors other than ErrAuthFailed reach the client as a temporary
// failure and are logged).
func checkOwner(u *passwdfile.User, uid int) error {
	if u.UID >= 0 && u.UID != uid {
		return fmt.Errorf("user %q has uid %d but the server runs as uid %d and cannot act as another user", u.Name, u.UID, uid)
	}
	return nil
}
