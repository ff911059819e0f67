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
// Maildir path. The template may start with "maildir:"; options after the path
// (":INDEX=...", ":LAYOUT=...", ":CONTROL=..."; "::" is a literal colon) are
// ignored. "" means [DefaultLocation].
//
// Variables: %u (the full user name), %n (the part before '@'), %d (the part
// after '@'), %h (home), %% (a literal %), the long forms %{user},
// %{username}, %{domain}, %{home}, and Dovecot's L modifier for lower case
// (%Lu, %Ln, %Ld, %L{user}, ...). A leading "~" means u.Home. Unknown
// variables, an empty home where one is needed, %n or %d expanding to ""
// (e.g. %d for a user without a domain), and a non-absolute result are errors.
//
// Security: a user name must never take a path out of the mail root. The
// values of %u, %n and %d must not contain '/', '\' or control characters,
// and must not be "." or "..", or the expansion fails.
func ExpandLocation(template string, u *User) (string, error) {
	if u == nil {
		return "", errors.New("passwdfile: expanding mail location: no user")
	}
	loc := template
	if loc == "" {
		loc = DefaultLocation
	}
	if format, rest, ok := strings.Cut(loc, ":"); ok && isFormatName(format) {
		if !strings.EqualFold(format, "maildir") {
			return "", fmt.Errorf("passwdfile: mail location %q: format %q is not maildir", template, format)
		}
		loc = rest
	}
	loc = locationPath(loc)
	if loc == "~" || strings.HasPrefix(loc, "~/") {
		if u.Home == "" {
			return "", fmt.Errorf("passwdfile: mail location %q: user %q has no home directory", template, u.Name)
		}
		loc = strings.ReplaceAll(u.Home, "%", "%%") + loc[1:]
	} else if strings.HasPrefix(loc, "~") {
		return "", fmt.Errorf("passwdfile: mail location %q: ~user is not supported", template)
	}
	out, err := expandVars(loc, u)
	if err != nil {
		return "", fmt.Errorf("passwdfile: mail location %q: %w", template, err)
	}
	if !filepath.IsAbs(out) {
		return "", fmt.Errorf("passwdfile: mail location %q: %q is not an absolute path", template, out)
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

// locationPath returns the path part of a location, before the first single
// ':', with "::" unescaped to ':'.
func locationPath(loc string) string {
	var b strings.Builder
	for i := 0; i < len(loc); i++ {
		if loc[i] == ':' {
			if i+1 < len(loc) && loc[i+1] == ':' {
				b.WriteByte(':')
				i++
				continue
			}
			break
		}
		b.WriteByte(loc[i])
	}
	return b.String()
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
