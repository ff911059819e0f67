package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// demoFolders are the Maildir++ folders of the demo besides INBOX.
var demoFolders = []string{"Sent", "Drafts", "Trash", "Archive", "Work.Projects"}

// demoMessage is one message of the demo tree.
type demoMessage struct {
	folder string        // "" for INBOX, else a Maildir++ folder name without the leading dot
	age    time.Duration // how long before now it was "delivered"
	flags  string        // info flags; "-" means the message is still in new/
	body   string        // the message with LF line endings, headers first; Date and Message-ID are added
}

// createDemoTree writes the demo Maildir as an MTA and a client would have
// left it: each message written in tmp/, synced, dated (mtime is
// INTERNALDATE) and renamed into new/ or cur/. It returns errDemoExists
// when maildir already exists.
func createDemoTree(maildir string) error {
	if _, err := os.Stat(maildir); err == nil {
		return errDemoExists
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Build in a sibling and rename, so that an interrupted run leaves no
	// half tree to be reused.
	tmp, err := os.MkdirTemp(filepath.Dir(maildir), ".Maildir.tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	dirs := []string{tmp}
	for _, f := range demoFolders {
		dirs = append(dirs, filepath.Join(tmp, "."+f))
	}
	for i, d := range dirs {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
				return err
			}
		}
		if i > 0 {
			if err := os.WriteFile(filepath.Join(d, "maildirfolder"), nil, 0o600); err != nil {
				return err
			}
		}
	}
	// Dovecot's subscriptions file, version 2: levels joined by TAB.
	subs := "V\t2\n\n"
	for _, f := range demoFolders {
		subs += strings.ReplaceAll(f, ".", "\t") + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, "subscriptions"), []byte(subs), 0o600); err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	for i, m := range demoMessages() {
		dir := tmp
		if m.folder != "" {
			dir = filepath.Join(tmp, "."+m.folder)
		}
		if err := deliverDemo(dir, m, now.Add(-m.age), i); err != nil {
			return err
		}
	}
	return os.Rename(tmp, maildir)
}

var demoSeq atomic.Int64

// deliverDemo writes one message into dir the way an MTA delivers.
func deliverDemo(dir string, m demoMessage, date time.Time, n int) error {
	head, body, _ := strings.Cut(m.body, "\n\n")
	msg := fmt.Sprintf("Date: %s\nMessage-ID: <%d.%d@demo.maildir-imapd.invalid>\n%s\n\n%s",
		date.Format(time.RFC1123Z), date.Unix(), n, head, body)
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if host == "" {
		host = "localhost"
	}
	key := fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d", date.Unix(), time.Now().Nanosecond()/1000, os.Getpid(), demoSeq.Add(1), host, len(msg))
	tmpPath := filepath.Join(dir, "tmp", key)
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(msg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmpPath, date, date)
	}
	dst := filepath.Join(dir, "new", key)
	if m.flags != "-" {
		dst = filepath.Join(dir, "cur", key+":2,"+m.flags)
	}
	if err == nil {
		err = os.Rename(tmpPath, dst)
	}
	if err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("deliver demo message: %w", err)
	}
	return nil
}

// demoMessages returns the demo's messages, oldest first.
func demoMessages() []demoMessage {
	day := 24 * time.Hour
	utf8Subject := mime.BEncoding.Encode("utf-8", "Zażółć gęślą jaźń: spotkanie w piątek ☕")
	csv := "month,revenue,costs\nJanuary,12000,8000\nFebruary,13500,8200\nMarch,15100,8900\n"
	return []demoMessage{
		{folder: "Work.Projects", age: 20 * day, flags: "S", body: `From: Dana Schulz <dana@example.com>
To: Demo User <demo@localhost>
Subject: Project kickoff notes
Content-Type: text/plain; charset=utf-8

Hi all,

notes from today's kickoff:
- milestone 1: IMAP server serving the old Maildirs
- milestone 2: push to phones via IDLE

Dana
`},
		{age: 9 * day, flags: "S", body: `From: GitHub <notifications@github.com>
To: Demo User <demo@localhost>
Subject: [maildir-imapd] Pull request #42 merged
List-Id: maildir-imapd <maildir-imapd.github.com>
Content-Type: text/plain; charset=utf-8

Merged #42 into main.

-- 
Reply to this email directly or view it on GitHub.
`},
		{age: 5 * day, flags: "FS", body: `From: Example Airways <no-reply@airline.example>
To: Demo User <demo@localhost>
Subject: Your flight confirmation ABC123
Content-Type: text/plain; charset=utf-8

Booking reference: ABC123
Flight EX 404, Berlin -> Lisbon, departure 09:40.
`},
		{age: 3 * day, flags: "S", body: `From: Alice Martin <alice@example.org>
To: Demo User <demo@localhost>
Subject: Lunch on Thursday?
Content-Type: text/plain; charset=utf-8

Hi!

Are you free for lunch on Thursday? The new place around the corner
has a very good soup of the day.

Alice
`},
		{folder: "Sent", age: 3*day - 2*time.Hour, flags: "S", body: `From: Demo User <demo@localhost>
To: Alice Martin <alice@example.org>
Subject: Re: Lunch on Thursday?
In-Reply-To: <lunch@example.org>
Content-Type: text/plain; charset=utf-8

Sure, 12:30 works for me.

> Are you free for lunch on Thursday?
`},
		{folder: "Drafts", age: 2 * day, flags: "DS", body: `From: Demo User <demo@localhost>
To: Bob Chen <bob@example.net>
Subject: Half-written reply about the report
Content-Type: text/plain; charset=utf-8

Bob, about the numbers in March:
`},
		{age: 26 * time.Hour, flags: "F", body: `From: Bob Chen <bob@example.net>
To: Demo User <demo@localhost>
Subject: Quarterly report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="demo-boundary-1"

--demo-boundary-1
Content-Type: text/plain; charset=utf-8

Hi,

the Q1 figures are attached. Revenue is up again.

Bob

--demo-boundary-1
Content-Type: text/csv; name="q1-report.csv"
Content-Disposition: attachment; filename="q1-report.csv"
Content-Transfer-Encoding: base64

` + base64.StdEncoding.EncodeToString([]byte(csv)) + `
--demo-boundary-1--
`},
		{age: 5 * time.Hour, flags: "-", body: `From: =?utf-8?q?=C5=81ukasz_Nowak?= <lukasz@example.pl>
To: Demo User <demo@localhost>
Subject: ` + utf8Subject + `
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Cześć! Widzimy się w piątek o 10:00? ☕
`},
		{age: time.Hour, flags: "-", body: `From: Go Weekly <newsletter@golangweekly.example>
To: Demo User <demo@localhost>
Subject: This week in Go: iterators everywhere
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="demo-boundary-2"

--demo-boundary-2
Content-Type: text/plain; charset=utf-8

This week: range-over-func in practice, and a faster slog handler.

--demo-boundary-2
Content-Type: text/html; charset=utf-8

<p>This week: <b>range-over-func</b> in practice, and a faster slog handler.</p>

--demo-boundary-2--
`},
	}
}
