package courier

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

func TestReadSubscribed_cases(t *testing.T) {
	const file = "INBOX\nINBOX.Sent\ninbox.Work.Clients\nINBOX.Entwürfe\n\nshared.x\n#shared.y\nINBOX.Sent\nINBOX.\nOther\n"
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{"Courier prefix kept", "INBOX.", []string{"INBOX", "INBOX.Sent", "INBOX.Work.Clients", "INBOX.Entwürfe"}},
		{"empty prefix strips", "", []string{"INBOX", "Sent", "Work.Clients", "Entwürfe"}},
		{"other prefix", "Mail/", []string{"INBOX", "Mail/Sent", "Mail/Work.Clients", "Mail/Entwürfe"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, SubscribedName, file)
			got, err := ReadSubscribed(dir, tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadSubscribed_missing(t *testing.T) {
	if _, err := ReadSubscribed(t.TempDir(), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestReadSubscribed_fixture(t *testing.T) {
	root, exp := loadFixture(t)
	got, err := ReadSubscribed(root, "INBOX.")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range exp.SubscriptionsFileLines {
		if l != "" {
			want = append(want, l)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConvertSubscriptions_fixture(t *testing.T) {
	root, _ := loadFixture(t)
	before := snapshot(t, root, func(rel string) bool { return rel == SubscribedName })
	converted, err := ConvertSubscriptions(root)
	if err != nil || !converted {
		t.Fatalf("ConvertSubscriptions = %v, %v; want true, nil", converted, err)
	}
	got, err := dovecot.ReadSubscriptions(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"INBOX", "Sent", "Drafts", "Trash", "Archive", "Entwürfe", "Work.Clients", "Old-Projects"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subscriptions %q, want %q", got, want)
	}
	raw, err := os.ReadFile(filepath.Join(root, dovecot.SubscriptionsName))
	if err != nil {
		t.Fatal(err)
	}
	const wantRaw = "V\t2\n\nINBOX\nSent\nDrafts\nTrash\nArchive\nEntw&APw-rfe\nWork\tClients\nOld-Projects\n"
	if string(raw) != wantRaw {
		t.Errorf("subscriptions file %q, want %q", raw, wantRaw)
	}
	if after := snapshot(t, root, func(rel string) bool { return rel == SubscribedName }); !reflect.DeepEqual(before, after) {
		t.Error("courierimapsubscribed changed")
	}

	// A second run, or a run over Dovecot's own file, leaves it alone.
	if err := dovecot.WriteSubscriptions(root, []string{"Sent"}); err != nil {
		t.Fatal(err)
	}
	converted, err = ConvertSubscriptions(root)
	if err != nil || converted {
		t.Fatalf("second ConvertSubscriptions = %v, %v; want false, nil", converted, err)
	}
	if got, _ := dovecot.ReadSubscriptions(root); !reflect.DeepEqual(got, []string{"Sent"}) {
		t.Errorf("subscriptions overwritten: %q", got)
	}
}

func TestConvertSubscriptions_noCourierFile(t *testing.T) {
	root := t.TempDir()
	converted, err := ConvertSubscriptions(root)
	if err != nil || converted {
		t.Fatalf("ConvertSubscriptions = %v, %v; want false, nil", converted, err)
	}
	if _, err := os.Stat(filepath.Join(root, dovecot.SubscriptionsName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("subscriptions created: %v", err)
	}
}
