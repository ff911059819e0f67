package passwdfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode"
)

// maxLineLen bounds one line of a passwd-file.
const maxLineLen = 1 << 20

// User is one line of a passwd-file. Users returned by [File] and [DB] are
// shared: treat them as read-only.
type User struct {
	Name     string            // as written in the file, e.g. "alice" or "alice@example.org"
	Password string            // "{SCHEME}hash" as in the file; "" means the user cannot log in
	UID, GID int               // -1 when the field is empty
	Gecos    string            // free text
	Home     string            // "" when the field is empty
	Shell    string            // unused by maildir-imapd, kept for completeness
	Extra    map[string]string // extra_fields: "key=value" pairs, bare "key" maps to ""; may be nil
	Line     int               // 1-based line number in the file
}

// MailLocation returns the user's own mail location from the extra fields
// userdb_mail or mail (in that order), or "" when it has none.
func (u *User) MailLocation() string {
	if v, ok := u.Extra["userdb_mail"]; ok {
		return v
	}
	return u.Extra["mail"]
}

// LineError is a problem with one line of a passwd-file.
type LineError struct {
	Path string // file name, "" when parsed from a reader
	Line int    // 1-based
	User string // user name of the line, "" if unknown
	Err  error
}

// Error formats the problem as "path: line N: ..." (without the path when
// Path is "").
func (e *LineError) Error() string {
	s := fmt.Sprintf("line %d: %v", e.Line, e.Err)
	if e.User != "" {
		s = fmt.Sprintf("line %d: user %q: %v", e.Line, e.User, e.Err)
	}
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// File is a parsed passwd-file. A File is immutable and safe for concurrent
// use; see [DB] for a file that is re-read when it changes.
type File struct {
	users    []*User          // in file order, without lines that have problems
	byName   map[string]*User // lower-cased name
	problems []error          // *LineError, in line order
}

// Parse reads a passwd-file. It collects every problem (syntax, unknown
// password scheme, malformed hash, bad uid/gid, duplicate user) as a
// [*LineError] instead of stopping at the first. Lines with problems are left
// out of the File; all other users are usable.
//
// Parse returns a nil File only when r cannot be read. Otherwise the File is
// non-nil and the error, if any, joins the problems (see [File.Problems]).
func Parse(r io.Reader) (*File, error) {
	return parse(r, "")
}

// Load parses the passwd-file at path like [Parse]; problems carry the path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("passwdfile: %w", err)
	}
	defer fh.Close()
	return parse(fh, path)
}

// Check parses a passwd-file and returns every problem, each a [*LineError]
// naming its line, followed by a read error if r failed. It returns nil for a
// good file. It is what `maildir-imapd check` reports.
func Check(r io.Reader) []error {
	f, err := Parse(r)
	if f == nil {
		return []error{err}
	}
	return f.Problems()
}

// Problems returns the problems found while parsing, in line order; nil when
// there were none.
func (f *File) Problems() []error {
	return append([]error(nil), f.problems...)
}

// Lookup returns the user called name, matched case-insensitively.
func (f *File) Lookup(name string) (*User, bool) {
	u, ok := f.byName[strings.ToLower(name)]
	return u, ok
}

// Users returns the users in file order. The slice is a copy; the Users are
// shared.
func (f *File) Users() []*User {
	return append([]*User(nil), f.users...)
}

func parse(r io.Reader, path string) (*File, error) {
	f := &File{byName: map[string]*User{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	seen := map[string]int{} // lower-cased name -> first line
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			continue
		}
		u, err := parseLine(line, n)
		if u != nil {
			// A name's first line decides, even when that line is bad: a
			// later line never takes over a user whose first line was broken.
			key := strings.ToLower(u.Name)
			if first, dup := seen[key]; dup {
				err = fmt.Errorf("duplicate user (first on line %d)", first)
			} else {
				seen[key] = n
			}
		}
		if err != nil {
			name, _, _ := strings.Cut(line, ":")
			if u != nil {
				name = u.Name
			}
			f.problems = append(f.problems, &LineError{Path: path, Line: n, User: sanitize(name), Err: err})
			continue
		}
		f.users = append(f.users, u)
		f.byName[strings.ToLower(u.Name)] = u
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = &LineError{Path: path, Line: n + 1, Err: fmt.Errorf("line longer than %d bytes", maxLineLen)}
		}
		if path != "" {
			return nil, fmt.Errorf("passwdfile: reading %s: %w", path, err)
		}
		return nil, fmt.Errorf("passwdfile: reading: %w", err)
	}
	return f, errors.Join(f.problems...)
}

// parseLine parses `user:password:uid:gid:gecos:home:shell:extra_fields`.
// Dovecot (src/auth/db-passwd-file.c): the extra fields are everything after
// the seventh colon, so that values such as userdb_mail=maildir:~/Maildir
// keep their colons.
func parseLine(line string, n int) (*User, error) {
	fields := strings.SplitN(line, ":", 8)
	for len(fields) < 8 {
		fields = append(fields, "")
	}
	u := &User{Name: fields[0], Password: fields[1], Gecos: fields[4], Home: fields[5], Shell: fields[6], Line: n}
	if err := checkUserName(u.Name); err != nil {
		return nil, err
	}
	if err := checkPassword(u.Password); err != nil {
		return u, err
	}
	if acceptsEmpty(u.Password) {
		return u, errEmptyPassword
	}
	var err error
	if u.UID, err = parseID(fields[2], "uid", lookupUID); err != nil {
		return u, err
	}
	if u.GID, err = parseID(fields[3], "gid", lookupGID); err != nil {
		return u, err
	}
	if u.Home != "" && !strings.HasPrefix(u.Home, "/") {
		return u, fmt.Errorf("home %q is not an absolute path", u.Home)
	}
	for _, kv := range strings.Fields(fields[7]) {
		if u.Extra == nil {
			u.Extra = map[string]string{}
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return u, fmt.Errorf("extra field %q has no name", kv)
		}
		u.Extra[k] = v
	}
	return u, nil
}

// checkUserName rejects names that could not name a mailbox owner safely.
func checkUserName(name string) error {
	switch {
	case name == "":
		return errors.New("empty user name")
	case strings.ContainsRune(name, '/'):
		return errors.New("user name contains '/'")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return errors.New("user name contains a space or control character")
	}
	return nil
}

// sanitize makes a user name safe to print in an error.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, name)
}

// parseID parses a uid or gid field: empty is -1, a number is itself, and a
// name is looked up in the system databases as Dovecot does.
func parseID(field, what string, lookup func(string) (string, error)) (int, error) {
	if field == "" {
		return -1, nil
	}
	if id, err := strconv.Atoi(field); err == nil {
		if id < 0 {
			return 0, fmt.Errorf("negative %s %d", what, id)
		}
		return id, nil
	}
	s, err := lookup(field)
	if err != nil {
		return 0, fmt.Errorf("%s %q is neither a number nor a known name", what, field)
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: system id %q is not a number", what, field, s)
	}
	return id, nil
}

func lookupUID(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func lookupGID(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}
