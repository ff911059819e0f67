package maildirbackend_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// cacheCommands are the commands whose answers the cache must not change:
// the header listings of Thunderbird and K-9 Mail, ENVELOPE, BODYSTRUCTURE,
// sizes, header sections (cached names, others, partial), SEARCH and SORT
// and THREAD on header fields, and body sections.
var cacheCommands = []string{
	"FETCH 1:* (FLAGS ENVELOPE)",
	"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
	"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (date subject from content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity)])",
	"FETCH 1:* (BODYSTRUCTURE BODY RFC822.SIZE INTERNALDATE)",
	"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (Subject From)]<3.17> BODY.PEEK[HEADER.FIELDS (Received)] BODY.PEEK[HEADER.FIELDS.NOT (Subject)])",
	"FETCH 1:* (ENVELOPE BODY.PEEK[1] BODY.PEEK[HEADER])",
	"UID SEARCH FROM example",
	"UID SEARCH SUBJECT test",
	"UID SEARCH HEADER References <",
	"UID SEARCH SENTSINCE 1-Jan-2000 LARGER 500",
	"UID SORT (SUBJECT FROM DATE) UTF-8 ALL",
	"UID THREAD REFERENCES UTF-8 ALL",
}

// cacheMaildir writes the fixture messages of imapmsg (and a few shapes
// they lack) into cur/ of a new Maildir, half of them with S= in their
// names, so that the cache's check runs on both paths.
func cacheMaildir(t testing.TB) (root string, paths []string) {
	t.Helper()
	ar, err := txtar.ParseFile("imapmsg/testdata/dovecot.txtar")
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	msgs := [][]byte{
		[]byte("Subject: only a header, no line ending"),
		[]byte("From: A <a@example.org>\nSubject: =?UTF-8?Q?J=C3=BCrgen?= test\nReferences: <r1@x> <r2@x>\n\nbody\n"),
	}
	for _, f := range ar.Files {
		if strings.HasSuffix(f.Name, ".eml") || !strings.HasSuffix(f.Name, ".json") {
			msgs = append(msgs, f.Data)
		}
	}
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, b := range msgs {
		name := fmt.Sprintf("%d.M%dP1.cachetest", 1700000000+i, i)
		if i%2 == 0 {
			name += fmt.Sprintf(",S=%d", len(b))
		}
		p := filepath.Join(root, "cur", name+":2,S")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, date, date.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return root, paths
}

// transcript runs cmds on a new connection to a server over root and
// returns every byte of the answers. The server is closed before it
// returns, so that its cache file is written and unlocked.
func transcript(t *testing.T, root string, cmds []string, times int) string {
	t.Helper()
	frontend := os.Getenv("MAILDIR_IMAPD_FRONTEND")
	if strings.HasPrefix(t.Name(), "TestCache_coldWarmNew/") {
		frontend = strings.TrimPrefix(t.Name(), "TestCache_coldWarmNew/")
	}
	if frontend == "imapserver" {
		// go-imap's server has no SORT or THREAD.
		cmds = slices.DeleteFunc(slices.Clone(cmds), func(c string) bool {
			return strings.Contains(c, " SORT ") || strings.Contains(c, " THREAD ")
		})
	}
	s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Frontend: frontend})
	defer s.Backend.Close()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(conn)
	r.ReadString('\n')
	var out strings.Builder
	run := func(tag, cmd string, keep bool) {
		fmt.Fprintf(conn, "%s %s\r\n", tag, cmd)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if keep {
				out.WriteString(line)
			}
			if n, ok := literalSize(line); ok {
				lit := make([]byte, n)
				if _, err := io.ReadFull(r, lit); err != nil {
					t.Fatal(err)
				}
				if keep {
					out.Write(lit)
				}
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					t.Fatalf("%s: %s", cmd, line)
				}
				return
			}
		}
	}
	run("a", "LOGIN "+maildirtest.User+" "+maildirtest.Password, false)
	run("b", "EXAMINE INBOX", false)
	for i := 0; i < times; i++ {
		out.Reset() // the last round counts: warm when times > 1
		for j, cmd := range cmds {
			run(fmt.Sprintf("c%d", j), cmd, true)
		}
	}
	run("z", "LOGOUT", false)
	return out.String()
}

func cachePath(root string) string { return filepath.Join(root, "maildir-imapd.cache") }

// TestCache_coldWarmNew checks that the answers are the same from a
// process without a cache file (cold), from the same process again
// (warm), from a new process with the cache file, with the content kept in
// memory squeezed to a few messages, and after the cache file was deleted,
// through both front-ends.
func TestCache_coldWarmNew(t *testing.T) {
	for _, frontend := range []string{"imapd", "imapserver"} {
		t.Run(frontend, testCacheColdWarmNew)
	}
}

func testCacheColdWarmNew(t *testing.T) {
	root, _ := cacheMaildir(t)
	maildirbackend.SetCacheOff(true)
	without := transcript(t, root, cacheCommands, 1)
	maildirbackend.SetCacheOff(false)
	if len(without) < 10000 {
		t.Fatalf("answers too short (%d bytes): the fixture did not load", len(without))
	}
	if _, err := os.Stat(cachePath(root)); err == nil {
		t.Fatal("a cache file without the cache")
	}
	cold := transcript(t, root, cacheCommands, 1)
	sameTranscript(t, "cold, writing the cache file", cold, without)
	if fi, err := os.Stat(cachePath(root)); err != nil || fi.Size() == 0 {
		t.Fatalf("no cache file after the first process: %v", err)
	}
	warm := transcript(t, root, cacheCommands, 2)
	sameTranscript(t, "warm", warm, cold)
	withCache := transcript(t, root, cacheCommands, 1)
	sameTranscript(t, "new process with the cache file", withCache, cold)

	restore := maildirbackend.SetContentBudget(4 << 10)
	squeezed := transcript(t, root, cacheCommands, 2)
	restore()
	sameTranscript(t, "4 KiB of content in memory", squeezed, cold)

	if err := os.Remove(cachePath(root)); err != nil {
		t.Fatal(err)
	}
	rebuilt := transcript(t, root, cacheCommands, 1)
	sameTranscript(t, "cache file deleted", rebuilt, cold)
	if fi, err := os.Stat(cachePath(root)); err != nil || fi.Size() == 0 {
		t.Fatalf("cache file not rebuilt: %v", err)
	}
}

func sameTranscript(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			t.Fatalf("%s: line %d differs:\n got %q\nwant %q", what, i, gl[i], wl[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(gl), len(wl))
}

// TestCache_servesAndChecks shows that a new process answers from the
// cache file (a file rewritten in place with the same size and mtime, which
// no Maildir program does, still shows its old ENVELOPE), and that an
// entry whose file no longer has the recorded size or mtime is parsed
// again.
func TestCache_servesAndChecks(t *testing.T) {
	root, _ := cacheMaildir(t)
	cur := filepath.Join(root, "cur")
	same := "Subject: AAAA\n\nbody\n"
	other := "Subject: BBBB\n\nbody\n"
	write := func(name, body string, mtime time.Time) {
		p := filepath.Join(cur, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 5, 5, 5, 5, 5, 0, time.UTC)
	// Names without S=: the check stats the file. (With S=, the name's
	// size is the check: a Maildir file never changes size under its name.)
	write("1800000001.M1P1.probe:2,", same, t0)
	write("1800000002.M2P1.probe:2,", same, t0)
	write("1800000003.M3P1.probe:2,", same, t0)
	fetch := []string{"FETCH 1:* (ENVELOPE)"}
	first := transcript(t, root, fetch, 1)
	if strings.Count(first, `"AAAA"`) != 3 {
		t.Fatalf("first answer:\n%s", first)
	}
	write("1800000001.M1P1.probe:2,", other, t0)                // same size, same mtime
	write("1800000002.M2P1.probe:2,", other, t0.Add(time.Hour)) // same size, new mtime
	write("1800000003.M3P1.probe:2,", other+"longer", t0)       // new size, same mtime
	// dovecot-uidlist recorded the sizes: the new mtime is seen once a
	// stat has learned it (INTERNALDATE), the new size not at all.
	got := transcript(t, root, []string{"FETCH 1:* (INTERNALDATE)", "FETCH 1:* (ENVELOPE)"}, 1)
	if a, b := strings.Count(got, `"AAAA"`), strings.Count(got, `"BBBB"`); a != 2 || b != 1 {
		t.Fatalf("%d answers from the cache, %d parsed again, want 2 and 1 (the new mtime):\n%s", a, b, got)
	}
	// Without recorded sizes (names without S=, no dovecot-uidlist), the
	// sizes come from the files: both changes are seen.
	if err := os.Remove(filepath.Join(root, "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
	got = transcript(t, root, fetch, 1)
	if a, b := strings.Count(got, `"AAAA"`), strings.Count(got, `"BBBB"`); a != 1 || b != 2 {
		t.Fatalf("%d answers from the cache, %d parsed again, want 1 and 2:\n%s", a, b, got)
	}
}

// TestCache_damagedFile checks that a cache file that is not one (garbage,
// a directory, a symbolic link) neither stops the server nor changes its
// answers, that garbage is replaced by a working file, and that a link is
// not followed.
func TestCache_damagedFile(t *testing.T) {
	root, _ := cacheMaildir(t)
	want := transcript(t, root, cacheCommands[:4], 1)

	garbage := strings.Repeat("not a bbolt file\n", 1000)
	if err := os.WriteFile(cachePath(root), []byte(garbage), 0o600); err != nil {
		t.Fatal(err)
	}
	sameTranscript(t, "garbage cache file", transcript(t, root, cacheCommands[:4], 1), want)
	if b, err := os.ReadFile(cachePath(root)); err != nil || string(b) == garbage {
		t.Fatalf("garbage not replaced: %v", err)
	}
	sameTranscript(t, "replaced cache file", transcript(t, root, cacheCommands[:4], 1), want)

	// A damaged page: every byte after the meta pages flipped.
	b, err := os.ReadFile(cachePath(root))
	if err != nil {
		t.Fatal(err)
	}
	for i := 4 * 4096; i < len(b); i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(cachePath(root), b, 0o600); err != nil {
		t.Fatal(err)
	}
	sameTranscript(t, "damaged pages", transcript(t, root, cacheCommands[:4], 1), want)

	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(cachePath(root))
	if err := os.Symlink(target, cachePath(root)); err != nil {
		t.Fatal(err)
	}
	sameTranscript(t, "symbolic link", transcript(t, root, cacheCommands[:4], 1), want)
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep me" {
		t.Fatalf("link target changed: %q %v", b, err)
	}

	os.Remove(cachePath(root))
	if err := os.MkdirAll(filepath.Join(cachePath(root), "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	sameTranscript(t, "directory", transcript(t, root, cacheCommands[:4], 1), want)
}
