package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// diffDovecotConf is added to dovecotConf for the differential test's
// Dovecot (docs/differences.md, "reference configuration"): without the
// mailbox list index Dovecot lists the folders on disk on every LIST, so
// that a folder another program creates or removes shows at once, as it
// does in maildir-imapd.
const diffDovecotConf = "mailbox_list_index = no\n"

// startDiffDovecot starts Dovecot as startDovecot does (same
// configuration template), with diffDovecotConf appended. It is stopped at
// cleanup.
func startDiffDovecot(t *testing.T, a *account) *dovecot {
	t.Helper()
	bin := requireBinary(t, "dovecot", "dovecot-imapd dovecot-core")
	if _, err := os.Stat("/usr/lib/dovecot/imap"); err != nil {
		t.Fatalf("Dovecot's imap binary is missing (%v): run .ci/run, or apt-get install dovecot-imapd", err)
	}
	ddir := filepath.Join(a.dir, "dovecot")
	for _, d := range []string{"base", "state"} {
		if err := os.MkdirAll(filepath.Join(ddir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	internal, internalGroup, login := a.owner.name, a.owner.name, a.owner.name
	if a.owner.root {
		internal, internalGroup = "root", "root"
	}
	conf := strings.NewReplacer("{{dir}}", a.dir, "{{users}}", a.users, "{{port}}", port,
		"{{internal}}", internal, "{{internalgroup}}", internalGroup, "{{login}}", login).Replace(dovecotConf)
	if !a.owner.root {
		conf = strings.Replace(conf, "default_internal_group = "+internalGroup+"\n", "", 1)
	}
	confPath := filepath.Join(ddir, "dovecot.conf")
	writeFile(t, confPath, conf+diffDovecotConf)
	d := &dovecot{Addr: addr, LogPath: filepath.Join(ddir, "dovecot.log")}
	d.proc = startProcess(t, "dovecot", exec.Command(bin, "-F", "-c", confPath), nil)
	t.Cleanup(func() { d.Stop(t) })
	if err := waitPort(addr, d.proc.exited); err != nil {
		t.Fatalf("dovecot: %v\noutput:\n%s\nlog:\n%s", err, d.proc.output.String(), d.Log(t))
	}
	return d
}
