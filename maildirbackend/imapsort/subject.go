package imapsort

import "strings"

// BaseSubject returns the base subject of subject (RFC 5256 section 2.1), the
// text that SORT SUBJECT compares and THREAD groups by. subject is the
// Subject header field already decoded from RFC 2047 encoded words; an
// absent Subject is "".
//
// It converts tabs, CR and LF to spaces and runs of spaces to one space,
// then removes, repeatedly: trailing spaces and "(fwd)"; leading spaces and
// "re:", "fw:" and "fwd:" (with optional spaces and one "[...]" blob before
// the colon, and any blobs before them, as in "[list] Re[2]: "); a leading
// "[...]" blob when text remains after it; and a "[fwd: ...]" wrapper. All
// matching ignores ASCII case. The result keeps the case of the input; SORT
// and THREAD compare it with the i;unicode-casemap collation.
func BaseSubject(subject string) string {
	base, _ := baseSubject(subject)
	return base
}

// subjectKey returns the collation key of the base subject of subject, and
// whether the message is a reply or forward by its subject (see
// baseSubject). Like Dovecot (imap_get_base_subject_cased), it extracts the
// base subject from the casemapped subject, so that compatibility
// decomposition can make subject syntax: a fullwidth "ＲＥ：" or a "Re"
// with a no-break space before the colon is a reply prefix.
func subjectKey(subject string) (key string, replyOrFwd bool) {
	return baseSubject(casemap(subject))
}

// baseSubject returns the base subject of subject and whether the extraction
// removed a subj-refwd, a "(fwd)" trailer or a "[fwd:" ... "]" wrapper, which
// is what makes a message a reply or forward for THREAD=REFERENCES (RFC 5256
// section 3, REFERENCES).
func baseSubject(subject string) (base string, replyOrFwd bool) {
	// RFC 5256 section 2.1 step (1): tabs and continuations to space,
	// multiple spaces to one.
	s := collapseSpace(subject)
	for {
		// Step (2): trailing subj-trailer, repeatedly.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if hasSuffixFold(s, "(fwd)") {
				s = s[:len(s)-len("(fwd)")]
				replyOrFwd = true
			} else {
				break
			}
		}
		// Steps (3) to (5): subj-leader and subj-blob prefixes.
		for {
			if n, refwd := leaderLen(s); n > 0 {
				s = s[n:]
				replyOrFwd = replyOrFwd || refwd
				continue
			}
			// Step (4): a blob goes only if a non-empty subj-base remains.
			if n := blobLen(s); n > 0 && n < len(s) {
				s = s[n:]
				continue
			}
			break
		}
		// Step (6): "[fwd:" subject "]", then again from step (2).
		if len(s) > len("[fwd:") && hasPrefixFold(s, "[fwd:") && s[len(s)-1] == ']' {
			s = s[len("[fwd:") : len(s)-1]
			replyOrFwd = true
			continue
		}
		return s, replyOrFwd
	}
}

// collapseSpace turns tabs, CRs and LFs into spaces and runs of spaces into
// one space.
func collapseSpace(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || c == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// leaderLen returns the length of the subj-leader that s starts with (0 if
// none) and whether it is a subj-refwd rather than a space:
//
//	subj-leader = (*subj-blob subj-refwd) / WSP
func leaderLen(s string) (n int, refwd bool) {
	if s == "" {
		return 0, false
	}
	if s[0] == ' ' {
		return 1, false
	}
	i := 0
	for {
		if m := refwdLen(s[i:]); m > 0 {
			return i + m, true
		}
		m := blobLen(s[i:])
		if m == 0 {
			return 0, false
		}
		i += m
	}
}

// refwdLen returns the length of the subj-refwd that s starts with, 0 if
// none:
//
//	subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func refwdLen(s string) int {
	var i int
	switch {
	case hasPrefixFold(s, "re"):
		i = 2
	case hasPrefixFold(s, "fwd"):
		i = 3
	case hasPrefixFold(s, "fw"):
		i = 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += blobLen(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

// blobLen returns the length of the subj-blob that s starts with, 0 if none:
//
//	subj-blob = "[" *BLOBCHAR "]" *WSP   ; BLOBCHAR: any but "[" and "]"
func blobLen(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	i := end + 2
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case only (the ABNF strings of RFC 5256 section 5).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiFoldEqual(s[:len(prefix)], prefix)
}

// hasSuffixFold is hasPrefixFold for a suffix.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && asciiFoldEqual(s[len(s)-len(suffix):], suffix)
}

// asciiFoldEqual reports whether s equals the lower-case ASCII string lower
// when ASCII letters of s are lowered.
func asciiFoldEqual(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
