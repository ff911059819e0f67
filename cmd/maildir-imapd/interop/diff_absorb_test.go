package interop

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file turns a command's responses into canonical result lines, which
// the differential test compares between the servers, and into the
// session's model of its selected mailbox. Every normalisation here names
// its row of the table in docs/differences.md.

// verbOf returns the command's name: "FETCH", "UID FETCH", "SELECT", …
func verbOf(cmd string) string {
	f := strings.Fields(strings.ToUpper(cmd))
	if len(f) == 0 {
		return ""
	}
	if f[0] == "UID" && len(f) > 1 {
		return "UID " + f[1]
	}
	return f[0]
}

// absorb applies the responses rs of command cmd to session s and returns
// the canonical result lines: the sorted data lines, then the tagged status
// with its code. Protocol violations (an EXPUNGE past the end, a keyword in
// a FETCH before any FLAGS listed it) come out as lines starting with "!".
func (w *world) absorb(s *session, cmd string, rs []resp) []string {
	verb := verbOf(cmd)
	if verb == "SELECT" || verb == "EXAMINE" {
		s.selected, s.msgs = "", nil
	}
	fetches := make(map[int]map[string]string)
	var data []string
	tagged := "no tagged response"
	for i, r := range rs {
		if r.tag != "*" && r.tag != "+" && i == len(rs)-1 {
			tagged = r.status
			// differences.md: "response codes"
			if c := w.code(r.code); c != "" && r.status != "BAD" {
				tagged += " [" + c + "]"
			}
			continue
		}
		data = append(data, w.untagged(s, verb, cmd, r, fetches)...)
	}
	wantFlags := strings.Contains(strings.ToUpper(cmd), "FLAGS") || strings.Contains(strings.ToUpper(cmd), "FAST") ||
		strings.Contains(strings.ToUpper(cmd), "ALL") || strings.Contains(strings.ToUpper(cmd), "FULL") ||
		strings.Contains(verb, "STORE")
	wantUID := strings.HasPrefix(verb, "UID ") || strings.Contains(strings.ToUpper(cmd), " UID")
	wantModSeq := strings.Contains(strings.ToUpper(cmd), "MODSEQ") || strings.Contains(strings.ToUpper(cmd), "CHANGEDSINCE")
	if strings.HasSuffix(verb, "STORE") {
		// differences.md: "FETCH after STORE of unchanged flags"; what
		// the session learns is checked at the sync point.
		fetches = nil
	}
	for seq, items := range fetches {
		var keys []string
		extra := false
		for k := range items {
			if k == "FLAGS" && !wantFlags || k == "UID" && !wantUID || k == "MODSEQ" && !wantModSeq {
				continue // differences.md: "unsolicited FETCH"
			}
			keys = append(keys, k)
			extra = extra || k != "UID"
		}
		if !extra {
			continue
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + items[k]
		}
		data = append(data, fmt.Sprintf("FETCH %d (%s)", seq, strings.Join(parts, " ")))
	}
	data = dropNoselectParents(data)
	sort.Strings(data)
	if s.readOnly && s.selected != "" && (strings.HasSuffix(verb, "STORE") || strings.HasSuffix(verb, "EXPUNGE")) &&
		(tagged == "OK" || strings.HasPrefix(tagged, "NO") || tagged == "BAD" && strings.HasSuffix(verb, "STORE")) {
		tagged = "OK or NO (read-only)" // differences.md: "STORE, EXPUNGE in a read-only mailbox"
	}
	w.afterTagged(s, verb, cmd, tagged)
	return append(data, tagged)
}

// afterTagged updates the session's selected state after the tagged
// response.
func (w *world) afterTagged(s *session, verb, cmd, tagged string) {
	ok := strings.HasPrefix(tagged, "OK")
	switch verb {
	case "SELECT", "EXAMINE":
		if ok {
			f := strings.Fields(cmd)
			s.selected, s.readOnly = strings.Join(f[1:], " "), verb == "EXAMINE"
		}
	case "CLOSE", "UNSELECT":
		if ok {
			s.selected, s.msgs = "", nil
		}
	case "STORE", "UID STORE":
		if strings.Contains(strings.ToUpper(cmd), ".SILENT") {
			// The client knows what it set; the server need not echo it.
			for i := range s.msgs {
				s.msgs[i].flags = "?"
			}
		}
	}
}

// untagged handles one untagged response.
func (w *world) untagged(s *session, verb, cmd string, r resp, fetches map[int]map[string]string) []string {
	if r.tag == "+" {
		return nil
	}
	if r.status != "" {
		switch c := w.code(r.code); {
		case r.status == "BYE":
			return []string{"* BYE"}
		case r.status != "OK":
			return []string{"* " + r.status + " [" + c + "]"}
		case strings.HasPrefix(c, "PERMANENTFLAGS") && verb != "SELECT" && verb != "EXAMINE":
			return nil // differences.md: "PERMANENTFLAGS after a new keyword"
		case strings.HasPrefix(c, "PERMANENTFLAGS") && verb == "EXAMINE" && tolerate("examine-permanentflags"):
			return nil
		case c != "":
			return []string{"* OK [" + c + "]"}
		}
		return nil
	}
	if len(r.vals) == 0 {
		return []string{"! empty untagged response"}
	}
	if n, err := strconv.Atoi(r.vals[0].s); err == nil && len(r.vals) >= 2 && r.vals[0].k == 'a' {
		return w.numbered(s, n, strings.ToUpper(r.vals[1].s), r.vals[2:], fetches)
	}
	kind := strings.ToUpper(r.vals[0].s)
	args := r.vals[1:]
	switch kind {
	case "FLAGS":
		if len(args) == 1 {
			s.flags = flagSet(args[0])
			if verb == "SELECT" || verb == "EXAMINE" {
				return []string{"FLAGS " + sysFlags(s.flags)}
			}
		}
		return nil
	case "LIST", "LSUB":
		up := strings.ToUpper(cmd)
		return []string{w.listLine(kind, args, !strings.Contains(up, "(") || strings.Contains(up, "CHILDREN"))}
	case "STATUS":
		if len(args) == 2 {
			return []string{"STATUS " + strconv.Quote(args[0].str()) + " " + w.statusItems(args[1])}
		}
	case "SEARCH":
		strs, modSeq := searchLine(args)
		nums := make([]int, 0, len(strs))
		for _, a := range strs {
			n, _ := strconv.Atoi(a)
			nums = append(nums, n)
		}
		sort.Ints(nums)
		line := "SEARCH " + strings.Trim(fmt.Sprint(nums), "[]")
		if modSeq {
			line += " (MODSEQ _)"
		}
		return []string{line}
	case "CAPABILITY", "ENABLED", "ID":
		return nil // differences.md: "capabilities"
	case "ESEARCH":
		// The (TAG "...") correlator differs: the servers' tags are
		// numbered by the harness, which sends each its own NOOPs.
		if len(args) > 0 && args[0].k == 'l' {
			args = args[1:]
		}
		return []string{"* ESEARCH " + renderAll(normaliseESearch(args))}
	}
	return []string{"* " + kind + " " + renderAll(args)}
}

// numbered handles "* n EXISTS", "* n EXPUNGE", "* n RECENT", "* n FETCH".
func (w *world) numbered(s *session, n int, kind string, args []val, fetches map[int]map[string]string) []string {
	switch kind {
	case "EXISTS":
		if n < len(s.msgs) {
			return []string{fmt.Sprintf("! EXISTS %d after %d messages without EXPUNGE", n, len(s.msgs))}
		}
		for len(s.msgs) < n {
			s.msgs = append(s.msgs, msgModel{flags: "?"})
		}
	case "EXPUNGE":
		if n < 1 || n > len(s.msgs) {
			return []string{fmt.Sprintf("! EXPUNGE %d of %d messages", n, len(s.msgs))}
		}
		s.msgs = append(s.msgs[:n-1], s.msgs[n:]...)
		// Sequence numbers of FETCH data after this point shift; data of
		// one command keyed by number stays as sent.
	case "RECENT":
		// differences.md: "\Recent"
	case "FETCH":
		if len(args) != 1 || args[0].k != 'l' {
			return []string{"! bad FETCH"}
		}
		return w.fetchItems(s, n, args[0].l, fetches)
	default:
		return []string{fmt.Sprintf("* %d %s %s", n, kind, renderAll(args))}
	}
	return nil
}

// fetchItems records the items of "* n FETCH (...)" in the model and in
// fetches.
func (w *world) fetchItems(s *session, n int, l []val, fetches map[int]map[string]string) []string {
	var out []string
	if n < 1 || n > len(s.msgs) {
		out = append(out, fmt.Sprintf("! FETCH %d of %d messages", n, len(s.msgs)))
	}
	items := fetches[n]
	if items == nil {
		items = make(map[string]string)
		fetches[n] = items
	}
	for i := 0; i+1 < len(l); i += 2 {
		// differences.md: "header names in section keys"
		k := strings.ToUpper(strings.ReplaceAll(l[i].s, `"`, ""))
		v := l[i+1]
		switch k {
		case "FLAGS":
			fs := flagSet(v)
			items[k] = fs
			for _, f := range strings.Fields(strings.Trim(fs, "()")) {
				if !strings.HasPrefix(f, `\`) && !strings.Contains(" "+strings.Trim(s.flags, "()")+" ", " "+f+" ") {
					out = append(out, fmt.Sprintf("! FETCH shows keyword %s not in the last FLAGS %s", f, s.flags))
				}
			}
			if n >= 1 && n <= len(s.msgs) {
				s.msgs[n-1].flags = fs
			}
		case "UID":
			items[k] = v.s
			if n >= 1 && n <= len(s.msgs) {
				if old := s.msgs[n-1].uid; old != "" && old != v.s {
					out = append(out, fmt.Sprintf("! FETCH %d says UID %s, the session was told UID %s", n, v.s, old))
				}
				s.msgs[n-1].uid = v.s
			}
		case "MODSEQ":
			items[k] = "(_)" // the values differ (diff_condstore_test.go)
		case "INTERNALDATE":
			// differences.md: "INTERNALDATE day"
			items[k] = strconv.Quote(strings.TrimPrefix(strings.TrimPrefix(v.s, " "), "0"))
		default:
			items[k] = v.render()
		}
	}
	return out
}

// flagSet renders a flag list sorted, without \Recent (differences.md:
// "\Recent").
func flagSet(v val) string {
	var fs []string
	for _, f := range v.l {
		if !strings.EqualFold(f.s, `\Recent`) {
			fs = append(fs, f.s)
		}
	}
	sort.Strings(fs)
	return "(" + strings.Join(fs, " ") + ")"
}

// dropNoselectParents drops the LIST lines of \Noselect mailboxes whose
// children the same response lists: maildir-imapd lists the parent of a
// listed child even if no folder exists for it, Dovecot only with "%"
// (differences.md: "\Noselect parents").
func dropNoselectParents(data []string) []string {
	var names []string
	for _, l := range data {
		if strings.HasPrefix(l, "LIST ") {
			names = append(names, l[strings.Index(l, `" "`)+3:])
		}
	}
	out := data[:0]
	for _, l := range data {
		if strings.HasPrefix(l, "LIST ") && (strings.Contains(l, `\noselect`) || strings.Contains(l, `\nonexistent`)) {
			name := strings.TrimSuffix(l[strings.Index(l, `" "`)+3:], `"`)
			child := false
			for _, n := range names {
				child = child || strings.HasPrefix(n, name+".")
			}
			if child {
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

// sysFlags keeps the system flags of a canonical flag list: which
// keywords a FLAGS response lists differs (differences.md: "keywords in
// FLAGS").
func sysFlags(fs string) string {
	var out []string
	for _, f := range strings.Fields(strings.Trim(fs, "()")) {
		if strings.HasPrefix(f, `\`) {
			out = append(out, f)
		}
	}
	return "(" + strings.Join(out, " ") + ")"
}

func renderAll(vs []val) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.render()
	}
	return strings.Join(parts, " ")
}

// code renders a response code canonically, "" for none or for codes that
// legitimately differ.
func (w *world) code(c []val) string {
	if len(c) == 0 {
		return ""
	}
	name := strings.ToUpper(c[0].s)
	args := c[1:]
	switch name {
	case "TRYCREATE", "READ-ONLY", "READ-WRITE", "UNSEEN", "UIDNEXT", "MODIFIED":
	default:
		return "" // differences.md: "response codes"
	case "UIDVALIDITY", "APPENDUID", "COPYUID":
		if len(args) > 0 {
			args = append([]val{{k: 'a', s: w.symUV(args[0].s)}}, args[1:]...)
		}
	case "PERMANENTFLAGS":
		if len(args) == 1 {
			return name + " " + sysFlags(flagSet(args[0])) // differences.md: "keywords in FLAGS"
		}
	}
	if len(args) == 0 {
		return name
	}
	return name + " " + renderAll(args)
}

// listLine renders a LIST or LSUB response: attributes sorted and lower
// case, then the delimiter, the name and any extended data.
func (w *world) listLine(kind string, args []val, childInfo bool) string {
	if len(args) < 3 {
		return kind + " ! short " + renderAll(args)
	}
	var attrs []string
	for _, a := range args[0].l {
		switch x := strings.ToLower(a.s); x {
		case `\marked`, `\unmarked`:
			// differences.md: "\Marked"
		case `\all`, `\archive`, `\drafts`, `\flagged`, `\junk`, `\sent`, `\trash`:
			// differences.md: "special-use attributes"
		case `\haschildren`, `\hasnochildren`:
			if childInfo {
				attrs = append(attrs, x)
			} // else differences.md: "child attributes not asked for"
		default:
			attrs = append(attrs, x)
		}
	}
	sort.Strings(attrs)
	line := fmt.Sprintf("%s (%s) %s %s", kind, strings.Join(attrs, " "), args[1].render(), strconv.Quote(args[2].str()))
	if len(args) > 3 {
		line += " " + renderAll(args[3:])
	}
	return line
}

// statusItems renders STATUS items sorted by name, without RECENT
// (differences.md: "\Recent"), UIDVALIDITY as its symbol.
func (w *world) statusItems(v val) string {
	var parts []string
	for i := 0; i+1 < len(v.l); i += 2 {
		k := strings.ToUpper(v.l[i].s)
		x := v.l[i+1].s
		switch k {
		case "RECENT":
			continue
		case "HIGHESTMODSEQ":
			x = "_" // the values differ (diff_condstore_test.go)
		case "UIDVALIDITY":
			x = w.symUV(x)
		}
		parts = append(parts, k+" "+x)
	}
	sort.Strings(parts)
	return "(" + strings.Join(parts, " ") + ")"
}
