package interop

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// account is the one test user: a Dovecot passwd-file and the home
// directory holding ~/Maildir, shared by Dovecot and maildir-imapd.
type account struct {
	owner   mailOwner
	dir     string // the test's shared temporary directory
	users   string // passwd-file path
	home    string
	maildir string // home/Maildir
	// location is both servers' mail_location; newAccount sets
	// "maildir:~/Maildir".
	location string
}

// newAccount creates the passwd-file and an empty Maildir in a fresh
// directory. The passwd-file line is what Dovecot's passwd-file
// passdb/userdb reads: user:{PLAIN}password:uid:gid::home::.
func newAccount(t testing.TB) *account {
	t.Helper()
	o := owner(t)
	dir := sharedDir(t)
	a := &account{owner: o, dir: dir, users: filepath.Join(dir, "users"), home: filepath.Join(dir, "home")}
	a.maildir = filepath.Join(a.home, "Maildir")
	a.location = "maildir:~/Maildir"
	if err := os.Mkdir(a.home, 0o700); err != nil {
		t.Fatal(err)
	}
	o.chown(t, a.home)
	o.mkMaildir(t, a.maildir)
	writeFile(t, a.users, fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", testUser, testPass, o.uid, o.gid, a.home))
	return a
}

// dovecot is a private Dovecot instance started with `dovecot -F -c conf`.
type dovecot struct {
	Addr    string
	LogPath string
	proc    *process
	stopped bool
}

// dovecotConf is the minimal Dovecot 2.3 configuration serving the
// passwd-file users over plaintext IMAP on one loopback port. As root, mail
// access must not be uid 0 and imap-login must not run as root, hence the
// users of owner.
const dovecotConf = `# written by the interop tests of maildir-imapd
protocols = imap
listen = 127.0.0.1
base_dir = {{dir}}/dovecot/base
state_dir = {{dir}}/dovecot/state
log_path = {{dir}}/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {{internal}}
default_internal_group = {{internalgroup}}
default_login_user = {{login}}
first_valid_uid = 1
first_valid_gid = 1
mail_location = {{location}}
namespace inbox {
  inbox = yes
  separator = .
  prefix =
}
passdb {
  driver = passwd-file
  args = {{users}}
}
userdb {
  driver = passwd-file
  args = {{users}}
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = {{port}}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`

// startDovecot writes dovecot.conf for a and starts Dovecot in the
// foreground. It returns once the IMAP port accepts connections; Dovecot is
// stopped at cleanup, where its log is checked for uidlist corruption.
func startDovecot(t testing.TB, a *account) *dovecot {
	t.Helper()
	return startDovecotWith(t, a, "")
}

// startDovecotWith is startDovecot with extra configuration appended to
// dovecot.conf (plugins and their settings: quota, mail attributes). The
// placeholders of dovecotConf ({{dir}}, {{users}}) are replaced in it too.
func startDovecotWith(t testing.TB, a *account, extra string) *dovecot {
	t.Helper()
	bin := requireTool(t, "dovecot", "dovecot-imapd dovecot-core")
	requireTool(t, "doveadm", "dovecot-core")
	requireFile(t, "/usr/lib/dovecot/imap", "dovecot-imapd")
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
	} else {
		// Not root: every Dovecot process runs as us, and the sockets that
		// Debian gives to the group "dovecot" must get our own group.
		g, err := user.LookupGroupId(strconv.Itoa(a.owner.gid))
		if err != nil {
			t.Fatalf("group %d: %v", a.owner.gid, err)
		}
		internalGroup = g.Name
	}
	conf := strings.NewReplacer("{{dir}}", a.dir, "{{users}}", a.users, "{{port}}", port,
		"{{internal}}", internal, "{{internalgroup}}", internalGroup, "{{login}}", login,
		"{{location}}", a.location).Replace(dovecotConf + extra)
	confPath := filepath.Join(ddir, "dovecot.conf")
	writeFile(t, confPath, conf)

	d := &dovecot{Addr: addr, LogPath: filepath.Join(ddir, "dovecot.log")}
	d.proc = startProcess(t, "dovecot", exec.Command(bin, "-F", "-c", confPath), nil)
	t.Cleanup(func() {
		d.Stop(t)
		if t.Failed() {
			t.Logf("dovecot log:\n%s", d.Log(t))
		}
	})
	if err := waitPort(addr, d.proc.exited); err != nil {
		t.Fatalf("dovecot: %v\noutput:\n%s\nlog:\n%s", err, d.proc.output.String(), d.Log(t))
	}
	return d
}

// Log returns Dovecot's log file.
func (d *dovecot) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(d.LogPath)
	if err != nil && !os.IsNotExist(err) {
		t.Errorf("read dovecot log: %v", err)
	}
	return string(b)
}

// CheckLog fails the test if Dovecot logged an error or anything about a
// corrupt, broken or rebuilt uidlist or index, except lines that match one
// of expected (errors the caller's commands provoke on purpose).
func (d *dovecot) CheckLog(t testing.TB, expected ...*regexp.Regexp) {
	t.Helper()
	bad := grepLines(d.Log(t), "corrupt", "broken", "rebuild", "Error:", "Panic:", "Fatal:")
	bad = slices.DeleteFunc(bad, func(l string) bool {
		return slices.ContainsFunc(expected, func(re *regexp.Regexp) bool { return re.MatchString(l) })
	})
	if len(bad) > 0 {
		t.Errorf("dovecot logged %d problem lines:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

// Stop stops Dovecot (SIGTERM to the master, which stops its children) and
// waits for it. Calling it again does nothing.
func (d *dovecot) Stop(t testing.TB) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	if err := d.proc.stop(); err != nil && !isSignalExit(err) {
		t.Errorf("dovecot: %v\n%s", err, d.proc.output.String())
	}
}

// isSignalExit reports whether err is the exit of a process killed by
// SIGTERM (Dovecot's master exits that way).
func isSignalExit(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ((ws.Signaled() && ws.Signal() == syscall.SIGTERM) || ws.ExitStatus() == 0)
}

// imapd is a running `maildir-imapd serve`.
type imapd struct {
	Addr    string
	proc    *process
	stopped bool
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startImapd starts `maildir-imapd serve` on a free loopback port, as the
// mail owner, with the passwd-file of a and Dovecot's mail location. extra
// flags come last.
func startImapd(t testing.TB, a *account, extra ...string) *imapd {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--users", a.users,
		"--mail-location", a.location, "--log-level", "debug"}, extra...)
	return startImapdArgs(t, a.owner, args)
}

// startImapdArgs starts the binary with args, which must make it listen on
// one plain address, and waits until it listens.
func startImapdArgs(t testing.TB, o mailOwner, args []string) *imapd {
	t.Helper()
	addrc := make(chan string, 1)
	cmd := exec.Command(binary, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.credential()}
	d := &imapd{}
	d.proc = startProcess(t, "maildir-imapd", cmd, func(line string) {
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			select {
			case addrc <- m[1]:
			default:
			}
		}
	})
	t.Cleanup(func() {
		d.Stop(t)
		if t.Failed() {
			t.Logf("maildir-imapd output:\n%s", d.proc.output.String())
		}
	})
	select {
	case d.Addr = <-addrc:
	case <-d.proc.exited:
		t.Fatalf("maildir-imapd %q exited: %v\n%s", args, d.proc.err, d.proc.output.String())
	case <-time.After(deadline):
		t.Fatalf("maildir-imapd did not listen within %v\n%s", deadline, d.proc.output.String())
	}
	return d
}

// Stop stops maildir-imapd with SIGTERM and checks that it exits 0.
// Calling it again does nothing.
func (d *imapd) Stop(t testing.TB) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	if err := d.proc.stop(); err != nil {
		t.Errorf("maildir-imapd: %v\n%s", err, d.proc.output.String())
	}
}

// CheckLog fails the test if maildir-imapd logged at level ERROR.
func (d *imapd) CheckLog(t testing.TB) {
	t.Helper()
	if bad := grepLines(d.proc.output.String(), "level=ERROR", "panic", "DATA RACE"); len(bad) > 0 {
		t.Errorf("maildir-imapd logged %d ERROR lines:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}
