package maildirbackend

import (
	"errors"
	"io/fs"
	"os"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// msgWhere is where a message's file was when a search began, and the
// content the folder held for it then (immutable once made).
type msgWhere struct {
	inNew   bool
	info    string
	content *content // may be nil
}

// openContent opens the candidate's file for its BODY and TEXT keys and
// returns the part tree a FETCH left in memory (nil: none). It first
// tries the name the file had when the search began, without the
// folder's mutex: a sync holds that mutex while it writes
// dovecot-uidlist, and a search of 100,000 messages would otherwise take
// it 100,000 times behind every delivery. A file renamed since (a flag
// change) is looked up as open does. It returns a nil file when the
// message is gone; the candidate closes the file.
func (c *candidate) openContent() (*os.File, *imapmsg.Parsed, error) {
	if w := c.where; w != nil && c.key != "" && c.file == nil && !c.snapped {
		sub := "/cur/"
		if w.inNew {
			sub = "/new/"
		}
		file, err := openMessageFile(c.f.path + sub + c.key + w.info)
		if err == nil {
			c.file = file
			return file, parsedOf(w.content), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
	file, err := c.open()
	if err != nil || c.gone {
		return nil, nil, err
	}
	return file, parsedOf(c.snapshot().content), nil
}

func parsedOf(ct *content) *imapmsg.Parsed {
	if ct == nil {
		return nil
	}
	return ct.parsed
}
