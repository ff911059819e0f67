package imapmsg_test

import (
	"bytes"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// FuzzParse checks that no input panics, that every multipart has a child
// and extension data (go-imap's encoder panics otherwise), and that sizes
// agree with the CRLF form.
func FuzzParse(f *testing.F) {
	for _, c := range loadFixture(f) {
		f.Add(c.data)
	}
	f.Add([]byte(nestedMsg))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\n--a--\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := imapmsg.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		n, err := imapmsg.WriteCRLF(&buf, bytes.NewReader(b))
		if err != nil || n != p.Size || int64(buf.Len()) != p.Size {
			t.Fatalf("Size %d, WriteCRLF %d (%v)", p.Size, n, err)
		}
		checkStructure(t, p.BodyStructure)
		whole := imapmsg.SectionBytes(b, &imap.FetchItemBodySection{})
		if !bytes.Equal(whole, buf.Bytes()) {
			t.Fatal("BODY[] differs from WriteCRLF")
		}
		hdr := imapmsg.SectionBytes(b, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader})
		if int64(len(hdr)) != p.HeaderSize {
			t.Fatalf("BODY[HEADER] %d bytes, HeaderSize %d", len(hdr), p.HeaderSize)
		}
		for _, part := range [][]int{{1}, {2}, {1, 1}, {2, 1, 1}} {
			for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierMIME, imap.PartSpecifierHeader, imap.PartSpecifierText} {
				imapmsg.SectionBytes(b, &imap.FetchItemBodySection{Part: part, Specifier: spec})
			}
			_, _ = imapmsg.Binary(bytes.NewReader(b), &imap.FetchItemBinarySection{Part: part})
		}
		_, _ = imapmsg.MatchText(bytes.NewReader(b), "zz")
		imapmsg.ParseBytes(imapmsg.ConvertBinaryParts(b))
		_, _ = imapmsg.MatchHeader(bytes.NewReader(b), "subject", "zz")
	})
}

func checkStructure(t *testing.T, bs imap.BodyStructure) {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(bs.Children) == 0 || bs.Extended == nil {
			t.Fatalf("multipart without children or extension: %#v", bs)
		}
		for _, c := range bs.Children {
			checkStructure(t, c)
		}
	case *imap.BodyStructureSinglePart:
		if bs.Extended == nil {
			t.Fatalf("single part without extension: %#v", bs)
		}
		if m := bs.MessageRFC822; m != nil {
			if m.Envelope == nil {
				t.Fatal("message/rfc822 without envelope")
			}
			checkStructure(t, m.BodyStructure)
		}
	default:
		t.Fatalf("unexpected %T", bs)
	}
}
