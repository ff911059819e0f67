package interop

import (
	"testing"
)

// diffReplays are short sequences that once differed, replayed against
// both servers as TestDifferential runs a seed (the seed only builds the
// initial Maildir and the message pool).
var diffReplays = map[string][]string{
	// Seed 13, step 11,131: RENAME of a mailbox without folder into its
	// parent, with children whose new names collide with children not
	// moved yet. Dovecot renames a parent before its children and
	// siblings in the order its directory listing first shows them; a
	// child whose new name is taken then stays.
	"rename-into-parent": {
		`CREATE "B.z.z"`, `CREATE "B.z.z.x.deep"`, `CREATE "B.z.z.y"`, `CREATE "B.z.z.y.z.y.y"`,
		`CREATE "B.z.z.z.deep"`, `CREATE "B.z.z.deep"`, `CREATE "B.z.y"`, `CREATE "B.z.x.z.z"`,
		`CREATE "B.z.x.deep"`, `CREATE "B.z.x.y"`, `CREATE "B.x.deep"`, `CREATE "B.deep"`,
		`RENAME "B.z" "B"`, `LIST "" "*"`,
		`RENAME "B.x" "B"`, `LIST "" "*"`,
	},
}

// TestDifferential_replays runs each of diffReplays on session 0 of both
// servers and compares as TestDifferential does.
func TestDifferential_replays(t *testing.T) {
	requireTool(t, "dovecot", "dovecot-imapd dovecot-core")
	for name, cmds := range diffReplays {
		t.Run(name, func(t *testing.T) {
			c := newDiffCase(t, 1)
			f, _ := c.run(func(i int) (step, bool) {
				if i >= len(cmds) {
					return step{}, false
				}
				return step{Cmd: cmds[i]}, true
			})
			if f != nil {
				t.Errorf("step %d (%s) differs:\n%s\ndovecot:\n%s\nmaildir-imapd:\n%s",
					f.step, cmds[min(f.step, len(cmds)-1)], f.what, f.logs[0], f.logs[1])
			}
		})
	}
}
