package passwdfile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
)

// DefaultLocation is the mail location used when the template is "".
const DefaultLocation = "~/Maildir"

// ExpandLocation expands a Dovecot-style mail location for u and returns the
// Maildir path; it is [ParseLocation]'s Path. The options after the path
// (":INDEX=...", ":LAYOUT=...", ":CONTROL=..."; "::" is a literal colon)
// are not looked at: callers that serve the tree use ParseLocation.
func ExpandLocation(template string, u *User) (string, error) {
	loc, err := ParseLocation(template, u)
	if err != nil {
		return "", err
	}
	return loc.Path, nil
}

// Location is a Dovecot 2.3 mail location expanded for one user:
// "maildir:<path>[:KEY=value|:KEY]...".
type Location struct {
	Path    string   // the Maildir root
	Control string   // CONTROL=: where dovecot-uidlist, dovecot-keywords and subscriptions live; "" if not given
	Index   string   // INDEX=: where Dovecot keeps its index files (or "MEMORY"); "" if not given
	UTF8    bool     // :UTF8: folder names in UTF-8 on disk, not modified UTF-7
	Layout  string   // LAYOUT= as written ("maildir++", "fs", "index"); "" if not given
	Inbox   string   // INBOX=: a separate directory for INBOX; "" if not given
	Other   []string // any other option, as written ("VOLATILEDIR=...", "NO-NOSELECT")
}

// ParseLocation expands a Dovecot-style mail location for u. The template
// may start with "maildir:". "" means [DefaultLocation].
//
// Variables: %u (the full user name), %n (the part before '@'), %d (the part
// after '@'), %h (home), %% (a literal %), the long forms %{user},
// %{username}, %{domain}, %{home}, and Dovecot's L modifier for lower case
// (%Lu, %Ln, %Ld, %L{user}, ...). A leading "~" means u.Home, in the path
// and in the values of CONTROL=, INDEX= and INBOX=. Unknown variables, an
// empty home where one is needed, %n or %d expanding to "" (e.g. %d for a
// user without a domain), and a non-absolute path are errors.
//
// Security: a user name must never take a path out of the mail root. The
// values of %u, %n and %d must not contain '/', '\' or control characters,
// and must not be "." or "..", or the expansion fails.
func ParseLocation(template string, u *User) (*Location, error) {
	if u == nil {
		return nil, errors.New("passwdfile: expanding mail location: no user")
	}
	loc := template
	if loc == "" {
		loc = DefaultLocation
	}
	if format, rest, ok := strings.Cut(loc, ":"); ok && isFormatName(format) {
		if !strings.EqualFold(format, "maildir") {
			return nil, fmt.Errorf("passwdfile: mail location %q: format %q is not maildir", template, format)
		}
		loc = rest
	}
	parts := splitLocation(loc)
	path, err := expandPath(parts[0], u)
	if err != nil {
		return nil, fmt.Errorf("passwdfile: mail location %q: %w", template, err)
	}
	out := &Location{Path: path}
	for _, opt := range parts[1:] {
		if err := out.setOption(opt, u); err != nil {
			return nil, fmt.Errorf("passwdfile: mail location %q: %w", template, err)
		}
	}
	return out, nil
}

// setOption records one option of a location.
func (l *Location) setOption(opt string, u *User) error {
	key, value, hasValue := strings.Cut(opt, "=")
	var err error
	switch {
	case strings.EqualFold(key, "UTF8") && !hasValue:
		l.UTF8 = true
	case strings.EqualFold(key, "LAYOUT") && hasValue:
		l.Layout = value
	case strings.EqualFold(key, "CONTROL") && hasValue:
		l.Control, err = expandPath(value, u)
	case strings.EqualFold(key, "INBOX") && hasValue:
		l.Inbox, err = expandPath(value, u)
	case strings.EqualFold(key, "INDEX") && hasValue:
		if strings.EqualFold(value, "MEMORY") {
			l.Index = value
		} else {
			l.Index, err = expandPath(value, u)
		}
	case opt == "":
		// "maildir:~/Maildir:" has an empty option: nothing.
	default:
		l.Other = append(l.Other, opt)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// expandPath expands a path of a location: "~", then the variables; the
// result must be absolute.
func expandPath(loc string, u *User) (string, error) {
	if loc == "~" || strings.HasPrefix(loc, "~/") {
		if u.Home == "" {
			return "", fmt.Errorf("user %q has no home directory", u.Name)
		}
		loc = strings.ReplaceAll(u.Home, "%", "%%") + loc[1:]
	} else if strings.HasPrefix(loc, "~") {
		return "", errors.New("~user is not supported")
	}
	out, err := expandVars(loc, u)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(out) {
		return "", fmt.Errorf("%q is not an absolute path", out)
	}
	return filepath.Clean(out), nil
}

// isFormatName reports whether s looks like a mail storage format name such
// as "maildir" or "sdbox" (and not like a path).
func isFormatName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// splitLocation splits a location at its single ':' into the path and
// the options, with "::" unescaped to ':'.
func splitLocation(loc string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(loc); i++ {
		if loc[i] == ':' {
			if i+1 < len(loc) && loc[i+1] == ':' {
				b.WriteByte(':')
				i++
				continue
			}
			parts = append(parts, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(loc[i])
	}
	return append(parts, b.String())
}

// expandVars expands %-variables in s.
func expandVars(s string, u *User) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("trailing '%'")
		}
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		lower := false
		if s[i] == 'L' {
			lower = true
			i++
			if i >= len(s) {
				return "", errors.New("trailing '%L'")
			}
		}
		var name string
		if s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("unterminated '%{'")
			}
			name = s[i+1 : i+end]
			i += end
		} else {
			name = s[i : i+1]
		}
		v, err := varValue(name, u)
		if err != nil {
			return "", err
		}
		if lower {
			v = strings.ToLower(v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// varValue returns the value of one variable, checked so that it cannot
// escape the directory it is placed in.
func varValue(name string, u *User) (string, error) {
	user, domain, _ := strings.Cut(u.Name, "@")
	var v string
	switch name {
	case "u", "user":
		v = u.Name
	case "n", "username":
		v = user
	case "d", "domain":
		v = domain
	case "h", "home":
		if u.Home == "" {
			return "", fmt.Errorf("%%%s: user %q has no home directory", name, u.Name)
		}
		return u.Home, nil
	default:
		return "", fmt.Errorf("unknown variable %%%s", name)
	}
	if err := checkPathValue(v); err != nil {
		return "", fmt.Errorf("%%%s of user %q: %w", name, sanitize(u.Name), err)
	}
	return v, nil
}

// checkPathValue rejects a user-derived value that is not a single safe path
// component.
func checkPathValue(v string) error {
	switch {
	case v == "":
		return errors.New("expands to an empty string")
	case v == "." || v == "..":
		return fmt.Errorf("%q is not a valid path component", v)
	case strings.ContainsAny(v, `/\`):
		return errors.New("contains a path separator")
	case strings.ContainsFunc(v, unicode.IsControl):
		return errors.New("contains a control character")
	}
	return nil
}
