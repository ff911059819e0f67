package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSortThread_dovecotAnswers re-records the Dovecot answers that the
// tests of maildirbackend/imapsort replay (its testdata/capture.sh, one
// fixture directory at a time) with this machine's Dovecot, and wants them
// equal to the stored answers.txt files: the stored answers are what the
// installed Dovecot says, not a one-off.
func TestSortThread_dovecotAnswers(t *testing.T) {
	requireRoot(t) // capture.sh gives the Maildir to nobody and runs imap as nobody
	requireFile(t, "/usr/lib/dovecot/imap", "dovecot-imapd")
	requireTool(t, "setpriv", "util-linux")
	testdata, err := filepath.Abs(filepath.Join("..", "..", "..", "maildirbackend", "imapsort", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(testdata, "*", "commands.txt"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixture directories in %s: %v", testdata, err)
	}
	for _, commands := range dirs {
		dir := filepath.Dir(commands)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := filepath.Join(t.TempDir(), "answers.txt")
			cmd := exec.Command("bash", filepath.Join(testdata, "capture.sh"), dir)
			cmd.Env = append(os.Environ(), "ANSWERS="+got)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("capture.sh %s: %v\n%s", dir, err, out)
			}
			want := readAnswers(t, filepath.Join(dir, "answers.txt"))
			if g := readAnswers(t, got); g != want {
				t.Errorf("Dovecot's answers for %s changed:\n got:\n%s\nwant:\n%s", dir, g, want)
			}
		})
	}
}

// readAnswers returns an answers.txt without its comment lines (the first
// names the Dovecot version).
func readAnswers(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
