package maildirbackend

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestIntersectUIDSet(t *testing.T) {
	a := imap.UIDSet{{Start: 2, Stop: 4}, {Start: 7, Stop: 7}, {Start: 10, Stop: 20}}
	for _, tt := range []struct {
		b    imap.UIDSet
		want string
	}{
		{imap.UIDSet{{Start: 1, Stop: 0}}, "2:4,7,10:20"},                       // 1:*
		{imap.UIDSet{{Start: 15, Stop: 3}, {Start: 7, Stop: 7}}, "3:4,7,10:15"}, // reversed, unsorted
		{imap.UIDSet{{Start: 5, Stop: 6}, {Start: 8, Stop: 9}}, ""},
		{imap.UIDSet{{Start: 0, Stop: 0}}, ""}, // "*": beyond every expunged UID here
		{imap.UIDSet{{Start: 4, Stop: 10}, {Start: 3, Stop: 3}}, "3:4,7,10"},
	} {
		got := intersectUIDSet(a, tt.b).String()
		if got != tt.want {
			t.Errorf("%v ∩ %v = %q, want %q", a, tt.b, got, tt.want)
		}
	}
}
