//go:build ignore

// Gen_fixture packs a fixture tree (a Maildir written by a real IMAP server
// plus the expected.json that server's own IMAP output was captured into)
// into one txtar archive under testdata/, so that tests run from a plain
// clone. docs/fixtures/ describes each tree and how it was captured.
//
// The archive is the only copy of a tree in the repository: file names
// with ':' cannot go into Go module zips. To change a tree, unpack the
// archive, edit it and pack it again, from the module root:
//
//	go run ./maildirbackend/testdata/gen/gen_fixture.go \
//	    -unpack /tmp/fx -out maildirbackend/testdata/dovecot-2.3.txtar
//	# edit /tmp/fx/Maildir and /tmp/fx/expected.json
//	go run ./maildirbackend/testdata/gen/gen_fixture.go \
//	    -src /tmp/fx -name dovecot-2.3 -out maildirbackend/testdata/dovecot-2.3.txtar
//
// Without -src the archive named by -out is unpacked and packed again,
// which must leave it byte for byte unchanged.
//
// Archive layout (read by maildirtest.LoadFixture):
//
//   - "expected.json": the fixture's expected.json, byte for byte.
//   - "Maildir/<path>": a file of the tree whose bytes are valid UTF-8, end
//     in a newline (or are empty) and contain no line txtar would take for a
//     file marker.
//   - "Maildir/<path>.b64": any other file (Dovecot's binary index files, the
//     Latin-1 message, dovecot-uidvalidity without its newline), base64 in
//     76-column lines.
//
// Git keeps neither empty directories nor mtimes nor hard links, and
// neither does this archive: the loader recreates them from expected.json
// (directories, disk.mtime, disk.nlink). Names containing ':' are fine
// inside the archive, which is one file.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/tools/txtar"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

const b64Suffix = ".b64"

func main() {
	src := flag.String("src", "", "fixture directory holding expected.json and Maildir/; empty: unpack -out and pack it again")
	out := flag.String("out", "maildirbackend/testdata/dovecot-2.3.txtar", "archive to write")
	name := flag.String("name", "", "fixture name for the archive's comment (docs/fixtures/<name>.md); empty: from -out")
	unpack := flag.String("unpack", "", "only unpack the archive -out into this directory")
	flag.Parse()
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(*out), ".txtar")
	}
	var err error
	switch {
	case *unpack != "":
		err = unpackTo(*out, *unpack)
	case *src == "":
		err = repack(*out, *name)
	default:
		err = run(*src, *out, *name)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// repack unpacks the archive into a temporary directory and packs it again.
func repack(archive, name string) error {
	dir, err := os.MkdirTemp("", "gen_fixture")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := unpackTo(archive, dir); err != nil {
		return err
	}
	return run(dir, archive, name)
}

// unpackTo writes the fixture tree of the archive into dir, as
// maildirtest.LoadFixture does, plus dir/expected.json.
func unpackTo(archive, dir string) error {
	if _, _, err := maildirtest.LoadFixture(archive, dir); err != nil {
		return fmt.Errorf("unpack %s: %w", archive, err)
	}
	ar, err := txtar.ParseFile(archive)
	if err != nil {
		return err
	}
	for _, f := range ar.Files {
		if f.Name == "expected.json" {
			return os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644)
		}
	}
	return fmt.Errorf("%s: no expected.json", archive)
}

func run(src, out, name string) error {
	expected, err := os.ReadFile(filepath.Join(src, "expected.json"))
	if err != nil {
		return err
	}
	if err := check(src, expected); err != nil {
		return err
	}
	ar := &txtar.Archive{Comment: []byte(comment(name, expected))}
	ar.Files = append(ar.Files, encode("expected.json", expected))

	root := filepath.Join(src, "Maildir")
	var paths []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, b64Suffix) {
			return fmt.Errorf("%s: name ends in %s, which the archive reserves", p, b64Suffix)
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, rel := range paths {
		data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		ar.Files = append(ar.Files, encode(rel, data))
	}
	if err := os.WriteFile(out, txtar.Format(ar), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s: %d files", out, len(ar.Files))
	return nil
}

// encode stores data verbatim when txtar keeps it byte for byte, else as
// base64 under name+".b64".
func encode(name string, data []byte) txtar.File {
	if plain(data) {
		return txtar.File{Name: name, Data: data}
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteByte('\n')
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	return txtar.File{Name: name + b64Suffix, Data: []byte(b.String())}
}

func plain(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	if !utf8.Valid(data) || data[len(data)-1] != '\n' || bytes.Contains(data, []byte{'\r'}) {
		return false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("-- ")) && bytes.HasSuffix(line, []byte(" --")) {
			return false
		}
	}
	return true
}

// check verifies the claims the tests rely on before packing: every
// message file exists and its CRLF form has the recorded SHA-256.
func check(src string, expected []byte) error {
	var exp struct {
		Folders []struct {
			Name        string `json:"name"`
			MessageList []struct {
				UID        uint32 `json:"uid"`
				BodySHA256 string `json:"body_sha256"`
				Disk       struct {
					Path string `json:"path"`
				} `json:"disk"`
			} `json:"message_list"`
		} `json:"folders"`
	}
	if err := json.Unmarshal(expected, &exp); err != nil {
		return fmt.Errorf("expected.json: %w", err)
	}
	for _, f := range exp.Folders {
		for _, m := range f.MessageList {
			data, err := os.ReadFile(filepath.Join(src, "Maildir", filepath.FromSlash(m.Disk.Path)))
			if err != nil {
				return fmt.Errorf("%s UID %d: %w", f.Name, m.UID, err)
			}
			sum := sha256.Sum256(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")))
			if hex.EncodeToString(sum[:]) != m.BodySHA256 {
				return fmt.Errorf("%s UID %d: body_sha256 mismatch", f.Name, m.UID)
			}
		}
	}
	return nil
}

// comment is the archive's header: which server wrote the tree (the first
// two words of expected.json's "server") and where it is described.
func comment(name string, expected []byte) string {
	var exp struct {
		Server string `json:"server"`
	}
	server := "IMAP server"
	if json.Unmarshal(expected, &exp) == nil {
		if f := strings.Fields(strings.ReplaceAll(exp.Server, ",", "")); len(f) >= 2 {
			server = f[0] + " " + f[1]
		}
	}
	return fmt.Sprintf(`%s Maildir++ fixture %s, described in docs/fixtures/%s.md,
packed by maildirbackend/testdata/gen/gen_fixture.go (see its doc comment;
do not edit by hand). Unpack with maildirtest.Fixture / maildirtest.LoadFixture:
files named *.b64 are base64; empty directories, mtimes (disk.mtime) and hard
links (disk.nlink) are restored from expected.json.
`, server, name, name)
}
