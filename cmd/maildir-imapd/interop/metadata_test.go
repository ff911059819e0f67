package interop

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dovecotMetadataConf turns METADATA on in the test Dovecot, its entries in
// a dict file in the user's home.
const dovecotMetadataConf = `
mail_attribute_dict = file:%h/dovecot-attributes
protocol imap {
  imap_metadata = yes
}
`

// metaStep is one command of TestMetadata_dovecot. known names the row of
// docs/differences.md when the answers differ on purpose; then only ours
// is checked, against want (the normalised answer).
type metaStep struct {
	cmd   string
	lits  [][]byte
	known string
	want  string
}

// TestMetadata_dovecot sends the same METADATA commands to maildir-imapd
// and to Dovecot 2.3 (each on a Maildir of its own) and compares the
// answers: statuses, response codes, untagged METADATA data (entries in
// name order: Dovecot's follow its dict) and the texts of BAD.
func TestMetadata_dovecot(t *testing.T) {
	da, ma := newAccount(t), newAccount(t)
	dc := startDovecotWith(t, da, dovecotMetadataConf)
	ours := startImapd(t, ma)
	dw, err := dialRaw(dc.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dw.close()
	mw, err := dialRaw(ours.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mw.close()

	big := strings.Repeat("v", 70000)
	steps := []metaStep{
		{cmd: `SETMETADATA INBOX (/private/comment "c1" /shared/comment "s1")`},
		{cmd: `GETMETADATA INBOX (/private/comment /shared/comment /private/none)`},
		{cmd: `GETMETADATA (DEPTH 1) INBOX (/private /shared)`},
		{cmd: `SETMETADATA INBOX (/private/vendor/a/b "deep" /private/vendor/a "mid" /shared/vendor/x/y "sv")`},
		{cmd: `GETMETADATA (DEPTH infinity) INBOX (/private /shared)`},
		{cmd: `GETMETADATA (DEPTH 1) INBOX /private/vendor/a`},
		{cmd: `GETMETADATA (DEPTH 1) INBOX /private/vendor`},
		{cmd: `GETMETADATA (MAXSIZE 2 DEPTH infinity) INBOX /private`},
		{cmd: `GETMETADATA (MAXSIZE 0) INBOX (/private/comment /private/none)`},
		{cmd: `SETMETADATA INBOX (/PRIVATE/Comment "upper")`},
		{cmd: `GETMETADATA INBOX (/private/COMMENT /private/comment)`},
		{cmd: `SETMETADATA INBOX (/private/comment NIL /private/empty "" /private/atom word)`},
		{cmd: `GETMETADATA INBOX (/private/comment /private/empty /private/atom)`},
		{cmd: "SETMETADATA INBOX (/private/lit \x00 /shared/lit \x00)", lits: [][]byte{[]byte("line1\r\nline2\r\n"), []byte("\xc3\xa9t\xc3\xa9 \x01\x7f")}},
		{cmd: `GETMETADATA INBOX (/private/lit /shared/lit)`},
		{cmd: `SETMETADATA INBOX ()`},
		{cmd: `GETMETADATA INBOX ()`},
		{cmd: `SETMETADATA INBOX (/private/a "1" /private/b)`},
		{cmd: `SETMETADATA INBOX (/private/a "1" /bad "2")`},
		{cmd: `GETMETADATA INBOX /private/a`},
		// Entry names.
		{cmd: `SETMETADATA INBOX (foo "x")`},
		{cmd: `SETMETADATA INBOX (/private//foo "x")`},
		{cmd: `SETMETADATA INBOX (/private/foo/ "x")`},
		{cmd: `SETMETADATA INBOX (/private/f*o "x")`},
		{cmd: `SETMETADATA INBOX (/private/f%o "x")`},
		{cmd: `SETMETADATA INBOX (/other/foo "x")`},
		{cmd: `GETMETADATA INBOX (foo)`},
		{cmd: `GETMETADATA INBOX "/private/f*o"`},
		{cmd: `GETMETADATA INBOX /privatex`},
		// Options.
		{cmd: `GETMETADATA (DEPTH 2) INBOX /private`},
		{cmd: `GETMETADATA (MAXSIZE -1) INBOX /private`},
		{cmd: `GETMETADATA (FOO 1) INBOX /private`},
		// Mailboxes: RENAME carries the entries, DELETE drops them, a new
		// mailbox of the same name has none.
		{cmd: `CREATE Work`},
		{cmd: `SETMETADATA Work (/private/comment "of Work" /shared/comment "shared of Work")`},
		{cmd: `RENAME Work Done`},
		{cmd: `GETMETADATA Done (/private/comment /shared/comment)`},
		{cmd: `CREATE Work`},
		{cmd: `GETMETADATA Work (/private/comment /shared/comment)`},
		{cmd: `DELETE Done`},
		{cmd: `CREATE Done`},
		{cmd: `GETMETADATA Done /private/comment`},
		{cmd: `SETMETADATA Nope (/private/comment "x")`},
		{cmd: `GETMETADATA Nope /private/comment`},
		// Server entries.
		{cmd: `SETMETADATA "" (/private/comment "server note")`},
		{cmd: `GETMETADATA "" (/private/comment /shared/comment /shared/admin)`},
		{cmd: `SETMETADATA "" (/shared/comment "x")`},
		{cmd: `GETMETADATA (DEPTH infinity) "" /private`, known: "METADATA: DEPTH on server entries",
			want: "* METADATA \"\" (/private/comment \"server note\")\nTAG OK"},
		// Limits: Dovecot 2.3 has none.
		{cmd: "SETMETADATA INBOX (/private/big \x00)", lits: [][]byte{[]byte(big)}, known: "METADATA: limits",
			want: "TAG NO [METADATA MAXSIZE 65536]"},
		// Options after the mailbox (go-imap's client sends them there).
		{cmd: `GETMETADATA INBOX (DEPTH 1) (/private)`, known: "METADATA: options after the mailbox",
			want: "* METADATA INBOX (/private/atom \"word\" /private/empty \"\" /private/lit \"line1\\r\\nline2\\r\\n\")\nTAG OK"},
		// Dovecot takes /private itself, and writes an empty key that
		// corrupts its index: not sent to it.
		{cmd: `SETMETADATA INBOX (/private "x")`, known: "METADATA: /private and /shared themselves",
			want: "TAG NO"},
	}
	for _, st := range steps {
		mr, err := mw.cmd(st.cmd, st.lits...)
		if err != nil {
			t.Fatalf("maildir-imapd: %s: %v", shorten(st.cmd), err)
		}
		got := normMetadata(mr)
		if st.known != "" {
			if got != st.want {
				t.Errorf("%s (documented: %q):\n ours: %s\n want: %s", shorten(st.cmd), st.known, got, st.want)
			}
			continue
		}
		dr, err := dw.cmd(st.cmd, st.lits...)
		if err != nil {
			t.Fatalf("dovecot: %s: %v", shorten(st.cmd), err)
		}
		if want := normMetadata(dr); got != want {
			t.Errorf("%s:\n    ours: %s\n dovecot: %s", shorten(st.cmd), got, want)
		}
	}
	dc.CheckLog(t)
	ours.CheckLog(t)
}

var (
	dovecotTiming = regexp.MustCompile(` \([0-9.]+ \+ [0-9.]+( \+ [0-9.]+)? secs\)\.$`)
	clientBug     = regexp.MustCompile(`^\[CLIENTBUG\] `)
)

// normMetadata renders responses for comparison: the tag as TAG; for
// status responses the status, METADATA codes (other codes are not
// compared: docs/differences.md "response codes") and the text of BAD
// without Dovecot's timing; untagged data canonically, the
// entries of METADATA in name order.
func normMetadata(rs []resp) string {
	var out []string
	for _, r := range rs {
		tag := r.tag
		if tag != "*" && tag != "+" {
			tag = "TAG"
		}
		if r.status == "" {
			if len(r.vals) == 3 && r.vals[0].str() == "METADATA" && r.vals[2].k == 'l' {
				sortPairs(r.vals[2].l)
			}
			parts := []string{tag}
			for _, v := range r.vals {
				parts = append(parts, v.render())
			}
			out = append(out, strings.Join(parts, " "))
			continue
		}
		line := tag + " " + r.status
		if r.code != nil && r.code[0].str() == "METADATA" {
			parts := make([]string, len(r.code))
			for i, v := range r.code {
				parts[i] = v.render()
			}
			line += " [" + strings.Join(parts, " ") + "]"
		}
		if r.status == "BAD" {
			_, text, _ := strings.Cut(r.raw, " BAD ")
			text = clientBug.ReplaceAllString(dovecotTiming.ReplaceAllString(text, ""), "")
			line += " " + strings.TrimSuffix(text, ".")
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// sortPairs sorts a METADATA entry list (name value name value ...) by
// name, keeping each name with its value.
func sortPairs(l []val) {
	type pair struct{ k, v val }
	ps := make([]pair, 0, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		ps = append(ps, pair{l[i], l[i+1]})
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.k.str(), b.k.str()) })
	for i, p := range ps {
		l[2*i], l[2*i+1] = p.k, p.v
	}
}
