package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCurl_fetchAndList(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	root := filepath.Join(t.TempDir(), "Maildir")
	makeMaildir(t, root, "Work")
	seenBody := message("Seen one", "Already read.")
	flaggedBody := message("Flagged one", "Important.")
	seen := putMessage(t, root, "cur", "S", seenBody)
	putMessage(t, root, "cur", "F", flaggedBody)
	putMessage(t, filepath.Join(root, ".Work"), "cur", "", message("Work item", "Do it."))
	d := startDaemon(t, singleUserConfig(root))

	// The UIDs the daemon gave the two INBOX messages.
	snap := snapshotServer(t, d.Addr, []string{"INBOX"})["INBOX"]
	seenUID := msgBySubject(t, snap, "Seen one").UID
	flaggedUID := msgBySubject(t, snap, "Flagged one").UID
	base := "imap://" + d.Addr
	user := testUser + ":" + testPass

	tests := []struct {
		name string
		args []string
		code int      // curl's exit code
		want []string // substrings of stdout, or of the normalised body
		body string   // if set, stdout must equal this message (normalised)
	}{{
		name: "uidFetchFlags",
		args: []string{"--url", base + "/INBOX", "--user", user, "-X", "UID FETCH 1:* FLAGS"},
		want: []string{
			fmt.Sprintf(`UID %d`, seenUID), `\Seen`,
			fmt.Sprintf(`UID %d`, flaggedUID), `\Flagged`,
		},
	}, {
		name: "fetchBodyByUID",
		args: []string{"--url", fmt.Sprintf("%s/INBOX;UID=%d", base, seenUID), "--user", user},
		body: seenBody,
	}, {
		name: "list",
		args: []string{"--url", base + "/", "--user", user},
		want: []string{"INBOX", `"." Work`},
	}, {
		name: "examine",
		args: []string{"--url", base + "/", "--user", user, "-X", "EXAMINE INBOX"},
		want: []string{"* 2 EXISTS", "UIDVALIDITY"},
	}, {
		name: "wrongPassword",
		args: []string{"--url", base + "/INBOX", "--user", testUser + ":wrong"},
		code: 67, // CURLE_LOGIN_DENIED
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runTool(t, nil, curl, append([]string{"-sS"}, tt.args...)...)
			if res.code != tt.code {
				t.Fatalf("curl %q: want exit code %d, got %v", tt.args, tt.code, res)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("curl %q: output lacks %q:\n%v", tt.args, w, res)
				}
			}
			// IMAP sends CRLF; the file has LF.
			if want := strings.ReplaceAll(tt.body, "\n", "\r\n"); tt.body != "" && res.stdout != want {
				t.Errorf("curl %q: body\n got %q\nwant %q", tt.args, res.stdout, want)
			}
		})
	}

	// The body curl fetched is the file on disk.
	data, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != seenBody {
		t.Errorf("reading the message changed the file: %q", data)
	}
}
