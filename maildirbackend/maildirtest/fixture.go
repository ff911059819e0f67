package maildirtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// Expected is a fixture's expected.json: what the server that wrote the
// tree (Dovecot, Courier) reported over IMAP just before it stopped. Raw
// fields hold that server's wire text without the "* LIST " style prefix.
type Expected struct {
	SchemaVersion           int              `json:"schema_version"`
	Server                  string           `json:"server"`
	MaildirRoot             string           `json:"maildir_root"`
	Greeting                string           `json:"greeting"`
	Capability              string           `json:"capability"`
	NamespaceRaw            string           `json:"namespace_raw"`
	ListRaw                 []string         `json:"list_raw"`
	LSubRaw                 []string         `json:"lsub_raw"`
	ListReturnSubscribedRaw []string         `json:"list_return_subscribed_raw"`
	ListSubscribedRaw       []string         `json:"list_subscribed_raw"`
	RootFiles               []string         `json:"root_files"`
	Directories             []string         `json:"directories"`
	SubscriptionsFileLines  []string         `json:"subscriptions_file_lines"`
	UIDValidityFile         string           `json:"uidvalidity_file"`
	Folders                 []ExpectedFolder `json:"folders"`
}

// ExpectedFolder is one mailbox of [Expected], with its STATUS, LIST and
// on-disk data.
type ExpectedFolder struct {
	Name                   string            `json:"name"`       // UTF-8
	NameMUTF7              string            `json:"name_mutf7"` // the name on the wire
	DiskDir                string            `json:"disk_dir"`   // relative to the root; "." is INBOX
	UIDValidity            uint32            `json:"uidvalidity"`
	UIDNext                uint32            `json:"uidnext"`
	Messages               uint32            `json:"messages"`
	Unseen                 uint32            `json:"unseen"`
	Recent                 uint32            `json:"recent"`
	Size                   int64             `json:"size"`
	StatusRaw              string            `json:"status_raw"`
	Subscribed             bool              `json:"subscribed"`
	SpecialUse             []string          `json:"special_use"`
	ListAttributes         []string          `json:"list_attributes"`
	ListExtendedAttributes []string          `json:"list_extended_attributes"`
	ExamineFlags           string            `json:"examine_flags"`
	DiskFiles              []string          `json:"disk_files"`
	UIDListHeader          string            `json:"uidlist_header"`
	UIDListStaleUIDs       []uint32          `json:"uidlist_stale_uids"`
	KeywordsFile           []string          `json:"keywords_file"`
	Gone                   []ExpectedGone    `json:"gone"`
	MessageList            []ExpectedMessage `json:"message_list"`
}

// ExpectedGone is a UID that no longer exists in a folder.
type ExpectedGone struct {
	UID          uint32 `json:"uid"`
	How          string `json:"how"`
	BaseFilename string `json:"base_filename"`
}

// ExpectedMessage is one message of an [ExpectedFolder], in UID order.
type ExpectedMessage struct {
	UID               uint32       `json:"uid"`
	Seq               uint32       `json:"seq"`
	Flags             []string     `json:"flags"` // as FETCH FLAGS gave them, \Recent included
	RFC822Size        int64        `json:"rfc822_size"`
	InternalDate      string       `json:"internaldate"` // IMAP date-time string
	EnvelopeSubject   *string      `json:"envelope_subject"`
	EnvelopeMessageID *string      `json:"envelope_message_id"`
	BaseFilename      string       `json:"base_filename"`
	EnvelopeRaw       string       `json:"envelope_raw"`
	BodyStructureRaw  string       `json:"bodystructure_raw"`
	BodyRaw           string       `json:"body_raw"`
	BodySHA256        string       `json:"body_sha256"`
	Disk              ExpectedDisk `json:"disk"`
}

// ExpectedDisk is where and how a message is stored.
type ExpectedDisk struct {
	Path        string  `json:"path"` // relative to the root
	Dir         string  `json:"dir"`  // "new" or "cur"
	Info        *string `json:"info"` // ":2,..." or nil
	FileSize    int64   `json:"file_size"`
	MTime       int64   `json:"mtime"` // Unix seconds, equals INTERNALDATE
	NLink       int     `json:"nlink"`
	LineEndings string  `json:"line_endings"`
	UIDListLine string  `json:"uidlist_line"`
}

// Folder returns the folder whose IMAP name (UTF-8) is name, or nil.
func (e *Expected) Folder(name string) *ExpectedFolder {
	for i := range e.Folders {
		if e.Folders[i].Name == name {
			return &e.Folders[i]
		}
	}
	return nil
}

// Fixture unpacks the txtar archive at the given path (written by
// testdata/gen/gen_fixture.go) into a new t.TempDir() and returns the
// Maildir root and the parsed expected.json. It fails the test on error.
func Fixture(t testing.TB, archive string) (root string, exp *Expected) {
	t.Helper()
	root, exp, err := LoadFixture(archive, t.TempDir())
	if err != nil {
		t.Fatalf("fixture %s: %v", archive, err)
	}
	return root, exp
}

// LoadFixture unpacks the txtar archive at the given path into dir and
// returns the Maildir root (dir/Maildir) and the parsed expected.json.
//
// Files named "X.b64" are decoded from base64 into "X". Git keeps neither
// empty directories, nor mtimes, nor hard links, so they come from
// expected.json: every entry of directories is created (0700), every
// message's mtime is set to disk.mtime, and messages with disk.nlink > 1
// that share a base file name and content are hard links to one inode.
// Files are 0600 as Dovecot wrote them, except dovecot-uidvalidity.<hex>
// markers (0444).
func LoadFixture(archive, dir string) (root string, exp *Expected, err error) {
	ar, err := txtar.ParseFile(archive)
	if err != nil {
		return "", nil, fmt.Errorf("read archive: %w", err)
	}
	files := make(map[string][]byte, len(ar.Files))
	for _, f := range ar.Files {
		name, data := f.Name, f.Data
		if n, ok := strings.CutSuffix(name, ".b64"); ok {
			dec, err := base64.StdEncoding.DecodeString(string(bytes.ReplaceAll(data, []byte("\n"), nil)))
			if err != nil {
				return "", nil, fmt.Errorf("%s: %w", name, err)
			}
			name, data = n, dec
		}
		if !validPath(name) {
			return "", nil, fmt.Errorf("bad file name %q in archive", name)
		}
		if _, dup := files[name]; dup {
			return "", nil, fmt.Errorf("%s: twice in archive", name)
		}
		files[name] = data
	}
	raw, ok := files["expected.json"]
	if !ok {
		return "", nil, errors.New("archive has no expected.json")
	}
	exp = new(Expected)
	if err := json.Unmarshal(raw, exp); err != nil {
		return "", nil, fmt.Errorf("expected.json: %w", err)
	}
	rootName := exp.MaildirRoot
	if rootName == "" {
		rootName = "Maildir"
	}
	if !validPath(rootName) || strings.Contains(rootName, "/") {
		return "", nil, fmt.Errorf("bad maildir_root %q", rootName)
	}
	root = filepath.Join(dir, rootName)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	for _, d := range exp.Directories {
		if !validPath(d) {
			return "", nil, fmt.Errorf("bad directory %q", d)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o700); err != nil {
			return "", nil, err
		}
	}

	// Hard links: the first message of a (base name, sha256) group with
	// nlink > 1 is written, the others are linked to it.
	linkTo := make(map[string]string) // path -> path written first
	first := make(map[string]string)
	for _, f := range exp.Folders {
		for _, m := range f.MessageList {
			if m.Disk.NLink < 2 {
				continue
			}
			k := m.BaseFilename + "\x00" + m.BodySHA256
			if p, ok := first[k]; ok {
				linkTo[m.Disk.Path] = p
			} else {
				first[k] = m.Disk.Path
			}
		}
	}

	prefix := rootName + "/"
	for name, data := range files {
		if name == "expected.json" {
			continue
		}
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return "", nil, fmt.Errorf("%s: outside %s", name, rootName)
		}
		if _, ok := linkTo[rel]; ok {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return "", nil, err
		}
		mode := os.FileMode(0o600)
		if strings.HasPrefix(path.Base(rel), "dovecot-uidvalidity.") {
			mode = 0o444
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return "", nil, err
		}
	}
	for rel, target := range linkTo {
		if _, ok := files[prefix+target]; !ok {
			return "", nil, fmt.Errorf("%s: link target %s not in archive", rel, target)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.Link(filepath.Join(root, filepath.FromSlash(target)), p); err != nil {
			// A file system without hard links still gets the content.
			if err := os.WriteFile(p, files[prefix+target], 0o600); err != nil {
				return "", nil, err
			}
		}
	}
	for _, f := range exp.Folders {
		for _, m := range f.MessageList {
			p := filepath.Join(root, filepath.FromSlash(m.Disk.Path))
			if _, ok := files[prefix+m.Disk.Path]; !ok {
				if _, ok := linkTo[m.Disk.Path]; !ok {
					return "", nil, fmt.Errorf("%s UID %d: %s not in archive", f.Name, m.UID, m.Disk.Path)
				}
			}
			mt := time.Unix(m.Disk.MTime, 0)
			if err := os.Chtimes(p, mt, mt); err != nil {
				return "", nil, err
			}
		}
	}
	return root, exp, nil
}

// validPath reports whether name is a clean relative slash path that stays
// inside the directory it is joined to.
func validPath(name string) bool {
	return name != "" && name != "." && !strings.HasPrefix(name, "/") && !strings.Contains(name, "\\") &&
		path.Clean(name) == name && name != ".." && !strings.HasPrefix(name, "../")
}
