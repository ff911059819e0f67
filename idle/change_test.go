package idle

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestApplyUIDs_table(t *testing.T) {
	tests := []struct {
		name              string
		old               []imap.UID
		max               imap.UID
		exp, add          []imap.UID
		wantNext, wantGon []imap.UID
		wantMax           imap.UID
		wantChanged       bool
	}{
		{name: "empty change", old: []imap.UID{1, 2}, max: 2, wantNext: []imap.UID{1, 2}, wantMax: 2},
		{name: "empty mailbox, add", add: []imap.UID{3, 1, 2, 2}, wantNext: []imap.UID{1, 2, 3}, wantMax: 3, wantChanged: true},
		{name: "expunge unknown", old: []imap.UID{1, 2}, max: 5, exp: []imap.UID{3, 9, 0}, wantNext: []imap.UID{1, 2}, wantMax: 5},
		{name: "expunge some", old: []imap.UID{1, 2, 3, 4}, max: 4, exp: []imap.UID{4, 2, 2, 7}, wantNext: []imap.UID{1, 3}, wantGon: []imap.UID{2, 4}, wantMax: 4, wantChanged: true},
		{name: "expunge all", old: []imap.UID{1, 2}, max: 2, exp: []imap.UID{1, 2}, wantGon: []imap.UID{1, 2}, wantNext: []imap.UID{}, wantMax: 2, wantChanged: true},
		{name: "add below max ignored", old: []imap.UID{1, 5}, max: 7, add: []imap.UID{2, 6, 7, 0}, wantNext: []imap.UID{1, 5}, wantMax: 7},
		{name: "add and expunge in one", old: []imap.UID{1}, max: 1, exp: []imap.UID{1, 3}, add: []imap.UID{2, 3}, wantNext: []imap.UID{2}, wantGon: []imap.UID{1}, wantMax: 3, wantChanged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := slices.Clone(tt.old)
			u := applyUIDs(old, tt.max, tt.exp, tt.add)
			if !slices.Equal(u.next, tt.wantNext) || !slices.Equal(u.gone, tt.wantGon) || u.maxUID != tt.wantMax || u.changed != tt.wantChanged {
				t.Errorf("got next %v gone %v max %d changed %v; want %v %v %d %v",
					u.next, u.gone, u.maxUID, u.changed, tt.wantNext, tt.wantGon, tt.wantMax, tt.wantChanged)
			}
			if !slices.Equal(old, tt.old) {
				t.Errorf("old modified: %v", old)
			}
		})
	}
}

func TestDiffUIDs_table(t *testing.T) {
	tests := []struct {
		name         string
		old, snap    []imap.UID
		wantVanished []int
		wantAdded    []imap.UID
	}{
		{name: "equal", old: []imap.UID{1, 2}, snap: []imap.UID{1, 2}},
		{name: "both empty"},
		{name: "all gone", old: []imap.UID{1, 2}, wantVanished: []int{0, 1}},
		{name: "all new", snap: []imap.UID{3, 4}, wantAdded: []imap.UID{3, 4}},
		{name: "mixed", old: []imap.UID{1, 3, 5, 7}, snap: []imap.UID{3, 7, 8, 9}, wantVanished: []int{0, 2}, wantAdded: []imap.UID{8, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, a := diffUIDs(tt.old, tt.snap)
			if !slices.Equal(v, tt.wantVanished) || !slices.Equal(a, tt.wantAdded) {
				t.Errorf("got %v %v, want %v %v", v, a, tt.wantVanished, tt.wantAdded)
			}
		})
	}
}

func TestRemoveUIDs_table(t *testing.T) {
	tests := []struct {
		name            string
		src, drop, want []imap.UID
		same            bool
	}{
		{name: "nothing to drop", src: []imap.UID{1, 2}, drop: []imap.UID{3}, want: []imap.UID{1, 2}, same: true},
		{name: "drop some", src: []imap.UID{1, 2, 3}, drop: []imap.UID{1, 3}, want: []imap.UID{2}},
		{name: "empty", drop: []imap.UID{1}, same: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := slices.Clone(tt.src)
			got := removeUIDs(src, tt.drop)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if len(src) > 0 && (&got[0] == &src[0]) != tt.same {
				t.Errorf("shares src: %v, want %v", !tt.same, tt.same)
			}
			if !slices.Equal(src, tt.src) {
				t.Errorf("src modified: %v", src)
			}
		})
	}
}
