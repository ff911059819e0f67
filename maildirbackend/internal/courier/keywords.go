package courier

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// KeywordsDirName is the directory of Courier-IMAP's keywords in a folder
// directory.
const KeywordsDirName = "courierimapkeywords"

// keywordsListName is the merged keyword list inside [KeywordsDirName].
const keywordsListName = ":list"

// keywordsRetries bounds the restarts when an update file disappears while
// it is read (Courier restarts its merge from the top in that case).
const keywordsRetries = 5

// ReadKeywords returns the keywords of every message of the folder
// directory folderDir, by key (base name), as Courier-IMAP would see them
// (README.imapkeywords.html, maildirkeywords2.c): the ":list" file of
// folderDir/courierimapkeywords/ (keyword names one per line, an empty
// line, then "<key>:<0-based indexes>" lines), overridden per message by
// the newest update file: a plain "<key>" file wins, else the ".<N>.<key>"
// file with the largest N. An update file holds the message's complete
// keyword set, one per line; an empty one means no keywords.
//
// Unlike Courier it only reads: nothing is merged back, renamed or deleted.
// Keys of messages that no longer exist are returned too; messages without
// keywords are absent. Names keep the spelling of their first occurrence
// for a message and are deduplicated case-insensitively. A missing
// directory gives an empty map and no error.
func ReadKeywords(folderDir string) (map[string][]string, error) {
	dir := filepath.Join(folderDir, KeywordsDirName)
	var err error
	for range keywordsRetries {
		var kw map[string][]string
		kw, err = readKeywordsOnce(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return kw, err
		}
		if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
			return map[string][]string{}, nil
		}
	}
	return nil, err
}

// readKeywordsOnce is one pass of ReadKeywords. An update file that
// vanished between listing and opening gives an error wrapping
// fs.ErrNotExist, and the caller starts over.
func readKeywordsOnce(dir string) (map[string][]string, error) {
	kw, err := readKeywordsList(filepath.Join(dir, keywordsListName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if kw == nil {
		kw = make(map[string][]string)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("courier: read keywords: %w", err)
	}
	// The newest update per key: plain "<key>" (plain=true) beats any
	// ".<N>.<key>", and among those the largest N wins.
	type update struct {
		name  string
		n     uint64
		plain bool
	}
	newest := make(map[string]update)
	for _, e := range ents {
		name := e.Name()
		if name == keywordsListName || e.IsDir() {
			continue
		}
		key, n, plain, ok := parseUpdateName(name)
		if !ok {
			continue
		}
		old, seen := newest[key]
		if !seen || (plain && !old.plain) || (!plain && !old.plain && n > old.n) {
			newest[key] = update{name: name, n: n, plain: plain}
		}
	}
	for key, u := range newest {
		names, err := readLines(filepath.Join(dir, u.name))
		if err != nil {
			return nil, err
		}
		if names = dedupe(names); len(names) == 0 {
			delete(kw, key)
		} else {
			kw[key] = names
		}
	}
	return kw, nil
}

// parseUpdateName splits a keywords directory entry: ".<N>.<key>" gives
// (key, N, false), a name not starting with '.' is a pending "<key>"
// update (plain). Other dot files (Courier's ".tmp.<...>" scratch files)
// are not updates.
func parseUpdateName(name string) (key string, n uint64, plain, ok bool) {
	if name == "" || strings.ContainsAny(name, "/:\r\n") {
		return "", 0, false, false
	}
	if name[0] != '.' {
		return name, 0, true, true
	}
	num, key, found := strings.Cut(name[1:], ".")
	if !found || key == "" {
		return "", 0, false, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, false, false
	}
	return key, n, false, true
}

// readKeywordsList parses a ":list" file. A missing file gives an error
// wrapping fs.ErrNotExist. Indexes outside the name list are skipped.
func readKeywordsList(path string) (map[string][]string, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	kw := make(map[string][]string)
	var names []string
	i := 0
	for ; i < len(lines) && lines[i] != ""; i++ {
		names = append(names, lines[i])
	}
	for _, line := range lines[i:] {
		if line == "" {
			continue
		}
		c := strings.LastIndexByte(line, ':')
		if c <= 0 {
			continue
		}
		key := line[:c]
		var set []string
		for _, f := range strings.Fields(line[c+1:]) {
			idx, err := strconv.Atoi(f)
			if err != nil || idx < 0 || idx >= len(names) {
				continue
			}
			set = append(set, names[idx])
		}
		if set = dedupe(set); len(set) > 0 {
			kw[key] = set
		} else {
			delete(kw, key)
		}
	}
	return kw, nil
}

// readLines returns the lines of a file, keeping empty ones but not a
// final empty one after the last newline; CR before LF is dropped.
func readLines(path string) ([]string, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("courier: read keywords: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("courier: read %s: %w", path, err)
	}
	return lines, nil
}

// dedupe drops empty names and case-insensitive repeats, keeping order.
func dedupe(names []string) []string {
	out := names[:0]
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if strings.EqualFold(o, n) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}
