package dovecot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// KeywordsName is the file name of a folder's keyword table.
const KeywordsName = "dovecot-keywords"

// MaxKeywords is the number of keyword letters, 'a' to 'z'
// (Dovecot: MAILDIR_MAX_KEYWORDS).
const MaxKeywords = 26

// Keywords is one folder's dovecot-keywords table: keyword names for the
// file-name flag letters 'a'-'z' (index 0-25). Names compare
// case-insensitively. The zero value is an empty table. A Keywords is not
// safe for concurrent use.
type Keywords struct {
	names [MaxKeywords]string
	dirty bool
}

// ReadKeywords reads dir/dovecot-keywords. A missing file gives an empty
// table. Like Dovecot (maildir-keywords.c), it skips lines without a space,
// with a non-numeric index or one >= 26, with an empty name, or repeating a
// name already seen (case-insensitively); a later line for the same index
// replaces the earlier one.
func ReadKeywords(dir string) (*Keywords, error) {
	k := &Keywords{}
	f, err := safefile.Open(filepath.Join(dir, KeywordsName))
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dovecot: read keywords: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idxText, name, ok := strings.Cut(sc.Text(), " ")
		if !ok || name == "" {
			continue
		}
		idx, err := strconv.Atoi(idxText)
		if err != nil || idx < 0 || idx >= MaxKeywords {
			continue
		}
		if _, dup := k.Letter(name); dup {
			continue
		}
		k.names[idx] = name
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dovecot: read %s: %w", f.Name(), err)
	}
	return k, nil
}

// Name returns the keyword for flag letter 'a'-'z' and whether it is known.
func (k *Keywords) Name(letter byte) (string, bool) {
	if letter < 'a' || letter > 'z' {
		return "", false
	}
	n := k.names[letter-'a']
	return n, n != ""
}

// Letter returns the flag letter of keyword name (case-insensitive) and
// whether the table has it.
func (k *Keywords) Letter(name string) (byte, bool) {
	for i, n := range k.names {
		if n != "" && strings.EqualFold(n, name) {
			return byte('a' + i), true
		}
	}
	return 0, false
}

// Add returns the letter of name, adding it at the lowest free index if it
// is new (changed reports that). ok is false when name is not a valid
// keyword (empty, or containing spaces, controls or IMAP specials) or when
// all 26 letters are taken.
func (k *Keywords) Add(name string) (letter byte, ok, changed bool) {
	if l, found := k.Letter(name); found {
		return l, true, false
	}
	if !validKeyword(name) {
		return 0, false, false
	}
	for i, n := range k.names {
		if n == "" {
			k.names[i] = name
			k.dirty = true
			return byte('a' + i), true, true
		}
	}
	return 0, false, false
}

// NameOrInvent returns the keyword of letter; for a letter without a name it
// invents "unknown-<index>" (with '?' appended while that name is taken)
// and records it, as Dovecot does (maildir_keywords_char_idx), marking the
// table [Keywords.Dirty]. It returns "" for a byte outside 'a'-'z'.
func (k *Keywords) NameOrInvent(letter byte) string {
	if letter < 'a' || letter > 'z' {
		return ""
	}
	if n := k.names[letter-'a']; n != "" {
		return n
	}
	name := "unknown-" + strconv.Itoa(int(letter-'a'))
	for {
		if _, taken := k.Letter(name); !taken {
			break
		}
		name += "?"
	}
	k.names[letter-'a'] = name
	k.dirty = true
	return name
}

// Names returns the known keywords in letter order.
func (k *Keywords) Names() []string {
	var out []string
	for _, n := range k.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Dirty reports whether Add or NameOrInvent changed the table since it was
// read or written.
func (k *Keywords) Dirty() bool { return k.dirty }

// validKeyword reports whether name is an IMAP flag-keyword atom.
func validKeyword(name string) bool {
	if name == "" || name[0] == '\\' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// WriteKeywords replaces dir/dovecot-keywords with k: it is written into
// dir/dovecot-keywords.lock (a dotlock created O_EXCL, stale after 120 s),
// given mtime max(now, old mtime + 1 s) in whole seconds so that Dovecot,
// which re-reads only on a whole-second mtime change, notices, fsynced and
// renamed over the old file. The caller must hold the uidlist lock.
func WriteKeywords(dir string, k *Keywords) error {
	var b strings.Builder
	for i, n := range k.names {
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, "\r\n") {
			return fmt.Errorf("dovecot: write keywords in %s: invalid name %q", dir, n)
		}
		fmt.Fprintf(&b, "%d %s\n", i, n)
	}
	dst := filepath.Join(dir, KeywordsName)
	old, err := modTime(dst)
	if err != nil {
		return err
	}
	lock, err := Dotlock(dst+".lock", &DotlockOptions{Stale: 120 * time.Second, replace: true})
	if err != nil {
		return err
	}
	err = lock.replaceTarget(dst, []byte(b.String()), func(f *os.File) error {
		t := time.Now().Truncate(time.Second)
		if !old.IsZero() {
			if o := old.Truncate(time.Second).Add(time.Second); o.After(t) {
				t = o
			}
		}
		if err := os.Chtimes(f.Name(), t, t); err != nil {
			return fmt.Errorf("dovecot: utime %s: %w", f.Name(), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	k.dirty = false
	return nil
}
