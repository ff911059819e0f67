package main

import (
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

func TestPlanIdentity(t *testing.T) {
	vmail := passwdfile.Owner{UID: 5000, GID: 5000}
	tests := []struct {
		name    string
		euid    int
		owners  []passwdfile.Owner
		drop    *passwdfile.Owner
		warn    bool
		wantErr string
	}{
		{name: "not root", euid: 5000, owners: []passwdfile.Owner{vmail, {UID: 1, GID: 1}}},
		{name: "root, one mail uid", euid: 0, owners: []passwdfile.Owner{vmail}, drop: &vmail},
		{name: "root, no uid", euid: 0, warn: true},
		{name: "root, uid 0", euid: 0, owners: []passwdfile.Owner{{UID: 0, GID: 0}}, warn: true},
		{name: "root, several uids", euid: 0, owners: []passwdfile.Owner{vmail, {UID: 1000, GID: 1000}}, wantErr: "2 different uids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := planIdentity(tt.euid, tt.owners)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (plan.drop == nil) != (tt.drop == nil) || (plan.drop != nil && *plan.drop != *tt.drop) {
				t.Errorf("drop = %v, want %v", plan.drop, tt.drop)
			}
			if (plan.warn != "") != tt.warn {
				t.Errorf("warn = %q", plan.warn)
			}
		})
	}
}

func TestCheckOwner(t *testing.T) {
	if err := checkOwner(&passwdfile.User{Name: "a", UID: -1}, 5000); err != nil {
		t.Errorf("a user without uid: %v", err)
	}
	if err := checkOwner(&passwdfile.User{Name: "a", UID: 5000}, 5000); err != nil {
		t.Errorf("the process's uid: %v", err)
	}
	if err := checkOwner(&passwdfile.User{Name: "a", UID: 1000}, 5000); err == nil {
		t.Error("another uid was accepted")
	}
}
