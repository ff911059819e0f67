package interop

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The alignments of TestDifferential: each makes equal what a row of
// docs/differences.md says may differ, and nothing else.

// subscribed returns the names LSUB "" "*" lists on session i.
func (w *world) subscribed(i int) ([]string, error) {
	rs, err := w.sess[i].w.cmd(`LSUB "" "*"`)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		if len(r.vals) >= 4 && strings.EqualFold(r.vals[0].s, "LSUB") {
			out = append(out, r.vals[3].str())
		}
	}
	return out, nil
}

// dovecotChildRenameRefused is the error Dovecot logs when RENAME leaves a
// child whose new name is taken where it is and still answers OK (as
// maildir-imapd does; differences.md, "Known bugs").
var dovecotChildRenameRefused = regexp.MustCompile(`Error: rename\(.*\) failed: Directory not empty$`)

// alignRename moves the subscriptions of a renamed mailbox and its
// children on Dovecot as maildir-imapd does (known bug
// "rename-subscriptions" in docs/differences.md).
func alignRename(ws [2]*world, s step, subs []string) error {
	w := ws[0]
	args, err := (&parser{b: strings.TrimPrefix(s.Cmd, "RENAME ")}).vals()
	if err != nil || len(args) != 2 {
		return fmt.Errorf("RENAME arguments of %q: %v", s.Cmd, err)
	}
	from, to := args[0].str(), args[1].str()
	if strings.EqualFold(from, "INBOX") {
		return nil
	}
	folders, err := w.folderNames(s.Sess)
	if err != nil {
		return err
	}
	for _, n := range subs {
		rest, ok := strings.CutPrefix(n, from)
		if !ok || rest != "" && !strings.HasPrefix(rest, ".") || folders[n] {
			// A child whose new name was taken stays, and keeps its
			// subscription on both servers.
			continue
		}
		if _, err := w.sess[s.Sess].w.cmd("UNSUBSCRIBE " + quote(n)); err != nil {
			return err
		}
		rs, err := w.sess[s.Sess].w.cmd("SUBSCRIBE " + quote(to+rest))
		if err != nil {
			return err
		}
		if out := w.absorb(w.sess[s.Sess], "SUBSCRIBE", rs); out[len(out)-1] != "OK" {
			// Dovecot refuses a name without folder (a renamed
			// \Noselect parent): "subscribe-nonexistent", so drop it
			// on the other side too.
			if _, err := ws[1].sess[s.Sess].w.cmd("UNSUBSCRIBE " + quote(to+rest)); err != nil {
				return err
			}
		}
	}
	return nil
}

// folderNames returns the selectable mailboxes LIST "" "*" shows on
// session i.
func (w *world) folderNames(i int) (map[string]bool, error) {
	rs, err := w.sess[i].w.cmd(`LIST "" "*"`)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rs {
		if len(r.vals) < 4 || !strings.EqualFold(r.vals[0].s, "LIST") {
			continue
		}
		selectable := true
		for _, a := range r.vals[1].l {
			if strings.EqualFold(a.s, `\Noselect`) || strings.EqualFold(a.s, `\NonExistent`) {
				selectable = false
			}
		}
		if selectable {
			out[r.vals[3].str()] = true
		}
	}
	return out, nil
}

// alignEmptyCopy makes a UID COPY or UID MOVE that matched no message
// equal when Dovecot said OK without COPYUID and maildir-imapd
// NO [TRYCREATE] because the destination does not exist (differences.md:
// "COPY of nothing to a missing mailbox").
func alignEmptyCopy(s step, res [2][]string) {
	v := verbOf(s.Cmd)
	if (v == "UID COPY" || v == "UID MOVE") && len(res[0]) == 1 && res[0][0] == "OK" && len(res[1]) == 1 && res[1][0] == "NO [TRYCREATE]" {
		res[1][0] = "OK"
	}
}

// alignSubscribe undoes a SUBSCRIBE that maildir-imapd accepted and
// Dovecot refused because the mailbox does not exist (differences.md:
// "SUBSCRIBE of a nonexistent mailbox"), so that the subscription lists
// stay comparable, and makes the results equal.
func alignSubscribe(ws [2]*world, s step, res [2][]string) error {
	if verbOf(s.Cmd) != "SUBSCRIBE" || len(res[0]) != 1 || res[0][0] != "NO" || len(res[1]) != 1 || res[1][0] != "OK" {
		return nil
	}
	name := strings.TrimPrefix(s.Cmd, "SUBSCRIBE ")
	// A name Dovecot still has subscribed (its folder went later) stays
	// subscribed on both sides.
	subs, err := ws[0].subscribed(s.Sess)
	if err != nil {
		return err
	}
	if args, err := (&parser{b: name}).vals(); err == nil && len(args) == 1 && slices.Contains(subs, args[0].str()) {
		res[1][0] = "NO"
		return nil
	}
	rs, err := ws[1].sess[s.Sess].w.cmd("UNSUBSCRIBE " + name)
	if err != nil {
		return err
	}
	if out := ws[1].absorb(ws[1].sess[s.Sess], "UNSUBSCRIBE", rs); out[len(out)-1] != "OK" {
		return fmt.Errorf("maildir-imapd: UNSUBSCRIBE %s after a SUBSCRIBE Dovecot refused: %s", name, out)
	}
	res[1][0] = "NO"
	return nil
}

// negatedOr matches an OR of two negated system-flag keys, which Dovecot
// 2.3.19 evaluates as their AND (docs/differences.md, "OR of negated
// flags").
var negatedOr = regexp.MustCompile(`\bOR (UN(ANSWERED|DELETED|DRAFT|FLAGGED|SEEN)|NOT (ANSWERED|DELETED|DRAFT|FLAGGED|SEEN)) (UN(ANSWERED|DELETED|DRAFT|FLAGGED|SEEN)|NOT (ANSWERED|DELETED|DRAFT|FLAGGED|SEEN))\b`)

// alignNegatedOr takes maildir-imapd's SEARCH answer as Dovecot's when the
// program holds an OR of two negated flag keys (Dovecot answers those
// wrongly; the sync point still checks both servers' flags).
func alignNegatedOr(s step, res *[2][]string) {
	if v := verbOf(s.Cmd); (v == "SEARCH" || v == "UID SEARCH") && negatedOr.MatchString(strings.ToUpper(s.Cmd)) {
		res[1] = slices.Clone(res[0])
	}
}

// searchFacts returns, after a SEARCH whose results differ, what each
// server says of the messages the keys look at (size, dates, flags), so
// that the message the servers disagree on shows why.
func searchFacts(ws [2]*world, s step) string {
	if v := verbOf(s.Cmd); v != "SEARCH" && v != "UID SEARCH" {
		return ""
	}
	var b strings.Builder
	for _, w := range ws {
		rs, err := w.sess[s.Sess].w.cmd("UID FETCH 1:* (RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[HEADER.FIELDS (DATE)])")
		fmt.Fprintf(&b, "%s s%d UID FETCH 1:* (RFC822.SIZE INTERNALDATE FLAGS Date:) (err %v):\n", w.name, s.Sess, err)
		for _, r := range rs {
			fmt.Fprintf(&b, "  %s\n", r.raw)
		}
	}
	return b.String()
}

// sameKindKeys matches a size or date key; negatedList the start of a
// negated list (see negatedSameKind).
var (
	sameKindKeys = regexp.MustCompile(`\b(LARGER|SMALLER|SENTBEFORE|SENTON|SENTSINCE|BEFORE|ON|SINCE) `)
	negatedList  = regexp.MustCompile(`\bNOT \(`)
)

// negatedSameKind reports whether a SEARCH program (upper case) negates a
// list holding two keys of one size or date kind, such as
// NOT (LARGER 2000 LARGER 500). Dovecot 2.3.19 merges the two as if the
// list were not negated and keeps the looser bound (docs/differences.md,
// "NOT of two size or date keys").
func negatedSameKind(prog string) bool {
	for _, loc := range negatedList.FindAllStringIndex(prog, -1) {
		depth, end := 0, len(prog)
		for i := loc[1] - 1; i < len(prog); i++ {
			if prog[i] == '(' {
				depth++
			} else if prog[i] == ')' {
				if depth--; depth == 0 {
					end = i
					break
				}
			}
		}
		seen := map[string]bool{}
		for _, m := range sameKindKeys.FindAllStringSubmatch(prog[loc[1]:end], -1) {
			if seen[m[1]] {
				return true
			}
			seen[m[1]] = true
		}
	}
	return false
}

// alignNegatedSameKind takes maildir-imapd's SEARCH answer as Dovecot's
// when the program negates a list with two keys of one size or date kind
// (Dovecot answers those wrongly; sizes and dates are still compared in
// the full state).
func alignNegatedSameKind(s step, res *[2][]string) {
	if v := verbOf(s.Cmd); (v == "SEARCH" || v == "UID SEARCH") && negatedSameKind(strings.ToUpper(s.Cmd)) {
		res[1] = slices.Clone(res[0])
	}
}
