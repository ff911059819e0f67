package passwdfile

import "sort"

// Owner is the system user and group a user's mail files belong to: the
// uid and gid fields of a passwd-file line.
type Owner struct{ UID, GID int }

// Owners returns the distinct owners named by the users' uid fields, in
// ascending order; users without a uid are not counted. A gid left empty
// is -1.
func (f *File) Owners() []Owner {
	seen := map[Owner]bool{}
	var out []Owner
	for _, u := range f.users {
		if u.UID < 0 {
			continue
		}
		o := Owner{UID: u.UID, GID: u.GID}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UID != out[j].UID {
			return out[i].UID < out[j].UID
		}
		return out[i].GID < out[j].GID
	})
	return out
}
