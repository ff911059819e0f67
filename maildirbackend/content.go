package maildirbackend

import (
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// content is what is known of a message's content beyond its file name:
// its summary (ENVELOPE, BODYSTRUCTURE, sizes), the header fields clients
// list, and the MIME part tree when this process parsed the file. It is
// immutable once made, except used (protected by the folder's mutex).
type content struct {
	sum      *imapmsg.Summary // never nil
	parsed   *imapmsg.Parsed  // the part tree; nil when it came from the cache file
	fields   []byte           // cachedFieldNames' fields; may be nil
	noFields bool             // fields nil because they exceed maxCachedFields
	cost     int64            // bytes held, as contentBudget counts them
	used     bool             // the clock's reference bit: set when a snapshot takes it
}

// newContent returns the content of a message with the given parts.
func newContent(sum *imapmsg.Summary, parsed *imapmsg.Parsed, fields []byte, noFields bool) *content {
	ct := &content{sum: sum, parsed: parsed, fields: fields, noFields: noFields && fields == nil}
	ct.cost = 96 + int64(cap(fields))
	if parsed != nil {
		ct.cost += parsed.MemSize()
	} else {
		ct.cost += sum.MemSize()
	}
	return ct
}

// complete reports whether ct knows BODYSTRUCTURE and RFC822.SIZE.
func (ct *content) complete() bool { return ct != nil && ct.sum.Complete() }

// hasFields reports whether ct can answer the cached header fields, or
// knows that the file must.
func (ct *content) hasFields() bool { return ct != nil && (ct.fields != nil || ct.noFields) }

// merge returns what a and b know together (either may be nil): the
// complete summary, the part tree and the fields of whichever has them.
func merge(a, b *content) *content {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	sum, parsed := a.sum, a.parsed
	if !a.complete() && b.complete() || parsed == nil && b.parsed != nil {
		sum, parsed = b.sum, b.parsed
	}
	fields, noFields := a.fields, a.noFields
	if !a.hasFields() {
		fields, noFields = b.fields, b.noFields
	}
	return newContent(sum, parsed, fields, noFields)
}

// entry returns the cache entry of ct for a file of the given size and
// modification time.
func (ct *content) entry(fsize, mtime int64) *cacheEntry {
	return &cacheEntry{sum: ct.sum, fields: ct.fields, noFields: ct.noFields, fsize: fsize, mtime: mtime}
}

// contentBudget bounds the bytes of content a folder keeps in memory
// (variable for tests). What is not in memory is in the cache file, or
// is parsed again: an open folder of 100,000 messages holds its message
// list and at most this much content, whatever is fetched.
var contentBudget int64 = 8 << 20

// maxContentCost bounds one message's content kept in memory: a message
// of thousands of MIME parts keeps its summary only.
const maxContentCost = 256 << 10

// memCache is the folder's bounded set of messages holding content: a
// clock (second-chance FIFO) over the messages, bounded in bytes. Content
// enters unreferenced, so that one FETCH 1:* of a large folder replaces
// only content used once, not what clients keep coming back to. It is
// protected by the folder's mutex.
type memCache struct {
	ring  []*message // messages with content, in no useful order
	hand  int
	bytes int64
}

// setLocked gives m the content ct (replacing what it had) and evicts
// until the folder is within contentBudget.
func (c *memCache) setLocked(m *message, ct *content) {
	if ct.cost > maxContentCost {
		if ct.parsed == nil || ct.sum.MemSize() > maxContentCost {
			return
		}
		ct = newContent(ct.sum, nil, ct.fields, ct.noFields)
	}
	if m.content != nil {
		c.bytes -= m.content.cost
	} else {
		c.ring = append(c.ring, m)
	}
	m.content = ct
	c.bytes += ct.cost
	for c.bytes > contentBudget && len(c.ring) > 0 {
		c.hand %= len(c.ring)
		v := c.ring[c.hand]
		if v.content.used && v != m {
			v.content.used = false
			c.hand++
			continue
		}
		if v == m && len(c.ring) == 1 {
			break
		}
		if v == m {
			c.hand++
			continue
		}
		c.bytes -= v.content.cost
		v.content = nil
		last := len(c.ring) - 1
		c.ring[c.hand] = c.ring[last]
		c.ring[last] = nil
		c.ring = c.ring[:last]
	}
}

// dropAllLocked forgets every content (the folder is retired).
func (c *memCache) dropAllLocked() {
	for _, m := range c.ring {
		m.content = nil
	}
	c.ring, c.hand, c.bytes = nil, 0, 0
}
