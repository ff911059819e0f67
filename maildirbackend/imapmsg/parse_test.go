package imapmsg_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

func TestParse_envelope(t *testing.T) {
	p, err := imapmsg.Parse(strings.NewReader(nestedMsg))
	if err != nil {
		t.Fatal(err)
	}
	env := p.Envelope
	want := &imap.Envelope{
		Date:    time.Date(2025, 1, 1, 10, 0, 0, 0, time.FixedZone("", 3600)),
		Subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= nested folded",
		From:    []imap.Address{{Name: "Doe, John", Mailbox: "john", Host: "example.com"}},
		To:      []imap.Address{{Mailbox: "undisclosed-recipients"}, {}},
		Cc: []imap.Address{
			{Mailbox: "Team"},
			{Mailbox: "ann", Host: "example.com"},
			{Mailbox: "bob", Host: "example.com"},
			{},
			{Mailbox: "carol", Host: "MISSING_DOMAIN"},
		},
		MessageID: "nested@example.com",
	}
	if !env.Date.Equal(want.Date) {
		t.Errorf("Date = %v, want %v", env.Date, want.Date)
	}
	env.Date = want.Date
	if !reflect.DeepEqual(env, want) {
		t.Errorf("envelope\n got %+v\nwant %+v", env, want)
	}
	if !p.SentDate().Equal(want.Date) {
		t.Errorf("SentDate = %v", p.SentDate())
	}
	if p.Size != int64(len(strings.ReplaceAll(nestedMsg, "\n", "\r\n"))) {
		t.Errorf("Size = %d", p.Size)
	}
	header := nestedMsg[:strings.Index(nestedMsg, "\n\n")+2]
	if p.HeaderSize != int64(len(strings.ReplaceAll(header, "\n", "\r\n"))) {
		t.Errorf("HeaderSize = %d", p.HeaderSize)
	}
}

func TestParse_addresses(t *testing.T) {
	tests := []struct {
		name, from string
		want       []imap.Address
	}{
		{"comment name", "bob@example.net (Bob Sender)", []imap.Address{{Name: "Bob Sender", Mailbox: "bob", Host: "example.net"}}},
		{"encoded word kept", "=?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>", []imap.Address{{Name: "=?UTF-8?Q?Zo=C3=AB?=", Mailbox: "zoe", Host: "example.org"}}},
		{"route ignored", "<@relay.example:joe@example.com>", []imap.Address{{Mailbox: "joe", Host: "example.com"}}},
		{"quoted local part", `"joe smith"@example.com`, []imap.Address{{Mailbox: "joe smith", Host: "example.com"}}},
		{"domain literal", "joe@[192.0.2.1]", []imap.Address{{Mailbox: "joe", Host: "[192.0.2.1]"}}},
		{"empty angle", "Nobody <>", []imap.Address{{Name: "Nobody", Mailbox: "MISSING_MAILBOX", Host: "MISSING_DOMAIN"}}},
		{"no domain", "Joe <joe>", []imap.Address{{Name: "Joe", Mailbox: "joe", Host: "MISSING_DOMAIN"}}},
		{"empty", "", nil},
		{"garbage", ">>> ,,, ;;", nil},
		{"unterminated group", "G: a@b", []imap.Address{{Mailbox: "G"}, {Mailbox: "a", Host: "b"}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := imapmsg.ParseBytes([]byte("From: " + tt.from + "\n\nbody\n"))
			if !reflect.DeepEqual(p.Envelope.From, tt.want) {
				t.Errorf("From = %#v, want %#v", p.Envelope.From, tt.want)
			}
		})
	}
}

func TestParse_bodyStructure(t *testing.T) {
	p := imapmsg.ParseBytes([]byte(nestedMsg))
	mp, ok := p.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 5 || mp.Subtype != "mixed" {
		t.Fatalf("top = %#v", p.BodyStructure)
	}
	if mp.Extended.Params["boundary"] != "outer" {
		t.Errorf("boundary = %q", mp.Extended.Params["boundary"])
	}
	text := mp.Children[0].(*imap.BodyStructureSinglePart)
	if text.Encoding != "8bit" || text.Size != 6 || text.Text.NumLines != 0 ||
		!reflect.DeepEqual(text.Extended.Language, []string{"de", "en"}) {
		t.Errorf("part 1 = %#v %#v", text, text.Extended)
	}
	msg := mp.Children[1].(*imap.BodyStructureSinglePart)
	if msg.MessageRFC822 == nil || msg.Description != "forwarded" {
		t.Fatalf("part 2 = %#v", msg)
	}
	if got := msg.MessageRFC822.Envelope.From; len(got) != 1 || got[0].Name != "Inner Person" {
		t.Errorf("part 2 envelope From = %#v", got)
	}
	inner, ok := msg.MessageRFC822.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || inner.Subtype != "alternative" || len(inner.Children) != 2 {
		t.Errorf("part 2 body = %#v", msg.MessageRFC822.BodyStructure)
	}
	if msg.MessageRFC822.NumLines != 12 {
		t.Errorf("part 2 lines = %d, want 12", msg.MessageRFC822.NumLines)
	}
	att := mp.Children[2].(*imap.BodyStructureSinglePart)
	if d := att.Extended.Disposition; d == nil || d.Value != "attachment" || d.Params["filename*"] != "UTF-8''a%20b.bin" {
		t.Errorf("part 3 disposition = %#v", d)
	}
	if att.Text != nil || att.Params != nil {
		t.Errorf("part 3 = %#v", att)
	}
}

func TestParse_malformed(t *testing.T) {
	tests := []struct {
		name, msg string
		check     func(t *testing.T, p *imapmsg.Parsed)
	}{
		{"empty", "", func(t *testing.T, p *imapmsg.Parsed) {
			sp := p.BodyStructure.(*imap.BodyStructureSinglePart)
			if sp.Type != "text" || sp.Subtype != "plain" || sp.Params["charset"] != "us-ascii" || p.Size != 0 {
				t.Errorf("got %#v size %d", sp, p.Size)
			}
		}},
		{"binary junk", "\x00\xff\xfe:\n\x01\x02", func(t *testing.T, p *imapmsg.Parsed) {
			if p.Envelope.From != nil || p.Envelope.Subject != "" || !p.Envelope.Date.IsZero() {
				t.Errorf("envelope = %#v", p.Envelope)
			}
		}},
		{"multipart without boundary", "Content-Type: multipart/mixed\n\nx\n", func(t *testing.T, p *imapmsg.Parsed) {
			if sp, ok := p.BodyStructure.(*imap.BodyStructureSinglePart); !ok || sp.Type != "multipart" {
				t.Errorf("got %#v", p.BodyStructure)
			}
		}},
		{"multipart without parts", "Content-Type: multipart/mixed; boundary=b\n\nno delimiter\n", func(t *testing.T, p *imapmsg.Parsed) {
			mp, ok := p.BodyStructure.(*imap.BodyStructureMultiPart)
			if !ok || len(mp.Children) != 1 || mp.Children[0].MediaType() != "text/plain" {
				t.Errorf("got %#v", p.BodyStructure)
			}
		}},
		{"bad content type", "Content-Type: garbage\nContent-Transfer-Encoding: BASE64\n\nx", func(t *testing.T, p *imapmsg.Parsed) {
			sp := p.BodyStructure.(*imap.BodyStructureSinglePart)
			if sp.MediaType() != "text/plain" || sp.Encoding != "BASE64" || sp.Size != 1 {
				t.Errorf("got %#v", sp)
			}
		}},
		{"crlf message", "Subject: a\r\n\r\nb\r\nc", func(t *testing.T, p *imapmsg.Parsed) {
			sp := p.BodyStructure.(*imap.BodyStructureSinglePart)
			if p.Size != 18 || p.HeaderSize != 14 || sp.Size != 4 || sp.Text.NumLines != 1 {
				t.Errorf("size %d header %d part %#v", p.Size, p.HeaderSize, sp)
			}
		}},
		{"no body", "Subject: only header", func(t *testing.T, p *imapmsg.Parsed) {
			if p.Envelope.Subject != "only header" || p.HeaderSize != 20 {
				t.Errorf("got %#v header %d", p.Envelope, p.HeaderSize)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := imapmsg.Parse(bytes.NewReader([]byte(tt.msg)))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}
