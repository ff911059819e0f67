package maildirbackend

import "strings"

// listMatcher matches mailbox names against one LIST pattern in time
// O(len(name) × active states), never backtracking: go-imap's
// imapserver.MatchList recurses once per wildcard and takes exponential
// time on patterns such as "*****…*Q" (50 stars: seconds; 2000: forever).
//
// The pattern is the reference and the pattern concatenated (RFC 3501
// section 6.3.8; Dovecot's mailbox_list_join_refpattern does the same), with
// every run of wildcards collapsed into one: a run holding "*" matches what
// "*" matches, a run of "%" what "%" matches. "*" matches any characters,
// "%" any but the hierarchy delimiter. The "INBOX" that starts a name whose
// first level is INBOX matches case-insensitively (RFC 3501 section 5.1),
// as Dovecot's inboxcase matching does.
//
// A listMatcher reuses its buffers: it is not safe for concurrent use.
type listMatcher struct {
	pat    string
	active []int    // states reached so far, in no order
	next   []int    // states of the next step
	mark   []uint32 // mark[i] == gen: state i is in next
	gen    uint32
}

// newListMatcher compiles ref+pattern.
func newListMatcher(ref, pattern string) *listMatcher {
	joined := ref + pattern
	pat := make([]byte, 0, len(joined))
	for i := 0; i < len(joined); i++ {
		c := joined[i]
		if c != '*' && c != '%' {
			pat = append(pat, c)
			continue
		}
		j := i
		for j < len(joined) && (joined[j] == '*' || joined[j] == '%') {
			if joined[j] == '*' {
				c = '*'
			}
			j++
		}
		pat = append(pat, c)
		i = j - 1
	}
	n := len(pat) + 1
	return &listMatcher{pat: string(pat), mark: make([]uint32, n), active: make([]int, 0, n), next: make([]int, 0, n)}
}

// match reports whether name matches the pattern.
func (m *listMatcher) match(name string) bool {
	fold := 0 // name bytes compared case-insensitively
	if name == inboxName || strings.HasPrefix(name, inboxName+string(Delim)) {
		fold = len(inboxName)
	}
	m.active = m.add(m.active[:0], 0, true)
	for j := 0; j < len(name) && len(m.active) > 0; j++ {
		c := name[j]
		m.next = m.next[:0]
		first := true
		for _, i := range m.active {
			if i == len(m.pat) {
				continue
			}
			switch p := m.pat[i]; {
			case p == '*' || (p == '%' && c != Delim):
				m.next = m.add(m.next, i, first)
			case p == c || (j < fold && lowerASCII(p) == lowerASCII(c)):
				m.next = m.add(m.next, i+1, first)
			default:
				continue
			}
			first = false
		}
		m.active, m.next = m.next, m.active
	}
	for _, i := range m.active {
		if i == len(m.pat) {
			return true
		}
	}
	return false
}

// add puts state i and the states it reaches without input (past
// wildcards, which match the empty string) into set. fresh starts a new
// set: the marks of the previous one no longer count.
func (m *listMatcher) add(set []int, i int, fresh bool) []int {
	if fresh {
		m.gen++
		if m.gen == 0 { // wrapped: clear stale marks
			clear(m.mark)
			m.gen = 1
		}
	}
	for {
		if m.mark[i] == m.gen {
			return set
		}
		m.mark[i] = m.gen
		set = append(set, i)
		if i == len(m.pat) || (m.pat[i] != '*' && m.pat[i] != '%') {
			return set
		}
		i++
	}
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
