// Package testenv decides what the tests of cmd/maildir-imapd do when a
// third-party program they drive (Dovecot, Postfix, mbsync, curl, mutt…)
// or root is missing: skip, naming the Debian package to install, or, when
// MAILDIR_IMAPD_E2E_REQUIRE is set (.ci/run sets it), fail.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env names the variable that turns a missing external program (or
// missing root) from a skip into a failure.
const Env = "MAILDIR_IMAPD_E2E_REQUIRE"

// Required reports whether Env is set (to anything but "" or "0").
func Required() bool {
	v := os.Getenv(Env)
	return v != "" && v != "0"
}

// Unavailable ends a test that cannot run on this machine: t.Fatal when
// Env is set, else t.Skip, both with why and what to install.
func Unavailable(t testing.TB, why, install string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s: %s (%s=%s makes this a failure)", why, install, Env, os.Getenv(Env))
	}
	t.Skipf("%s: %s; skipped, set %s=1 to make this a failure (.ci/run does)", why, install, Env)
}

// Tool returns the path of the installed program name from the Debian
// package pkg, or ends the test (see Unavailable). Daemons live in
// /usr/sbin, which is not always in a test's PATH, so it is searched too.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	Unavailable(t, name+" is not installed", "apt-get install "+pkg)
	return ""
}

// File checks that a program's helper file (a path the package installs
// outside PATH) exists, like Tool.
func File(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Unavailable(t, strings.TrimPrefix(err.Error(), "stat "), "apt-get install "+pkg)
	}
}

// Root ends the test unless it runs as root (to chown Maildirs, or to
// start a daemon that must start as root), like Tool.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, t.Name()+" needs root", "run the tests as root (.ci/run does)")
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
