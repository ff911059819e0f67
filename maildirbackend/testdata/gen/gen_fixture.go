//go:build ignore

// Gen_fixture packs a fixture tree from /work/shared/fixtures (a Maildir
// written by a real IMAP server plus the expected.json that server's own
// IMAP output was captured into) into one txtar archive under testdata/, so
// that tests run from a plain clone.
//
// Usage, from the module root:
//
//	go run ./maildirbackend/testdata/gen/gen_fixture.go \
//	    -src /work/shared/fixtures/dovecot-2.3 \
//	    -out maildirbackend/testdata/dovecot-2.3.txtar
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
)

const b64Suffix = ".b64"

func main() {
	src := flag.String("src", "/work/shared/fixtures/dovecot-2.3", "fixture directory holding expected.json and Maildir/")
	out := flag.String("out", "maildirbackend/testdata/dovecot-2.3.txtar", "archive to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		log.Fatal(err)
	}
}

func run(src, out string) error {
	expected, err := os.ReadFile(filepath.Join(src, "expected.json"))
	if err != nil {
		return err
	}
	if err := check(src, expected); err != nil {
		return err
	}
	ar := &txtar.Archive{Comment: []byte(comment(src))}
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

func comment(src string) string {
	return fmt.Sprintf(`Dovecot 2.3.19.1 Maildir++ fixture, packed from %s
by testdata/gen/gen_fixture.go (see its doc comment; do not edit by hand).
Unpack with maildirtest.Fixture / maildirtest.LoadFixture: files named *.b64
are base64; empty directories, mtimes (disk.mtime) and hard links
(disk.nlink) are restored from expected.json. See the fixture's README.md
for what the tree exercises.
`, filepath.Base(src))
}
