package maildirbackend

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/fts"
)

// searchChunk is how many messages a search worker takes at a time.
const searchChunk = 64

// runSearch calls match for 0..n-1 on a bounded pool of workers (one per
// core) and returns the results by index. It stops at the first error,
// and when ctx ends (the client went away) with ctx's error; a message
// is never matched twice.
func runSearch(ctx context.Context, n int, match func(i int) (bool, error)) ([]bool, error) {
	out := make([]bool, n)
	workers := min(runtime.GOMAXPROCS(0), (n+searchChunk-1)/searchChunk)
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		failed  atomic.Bool
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		failed.Store(true)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				start := int(next.Add(searchChunk)) - searchChunk
				if start >= n {
					return
				}
				for i := start; i < min(start+searchChunk, n); i++ {
					ok, err := match(i)
					if err != nil {
						fail(err)
						return
					}
					out[i] = ok
				}
			}
		}()
	}
	wg.Wait()
	return out, first
}

// contentPlan is the BODY and TEXT keys of a search program, numbered,
// and what the full-text index says of them.
type contentPlan struct {
	keys  []contentKeyDesc
	body  map[string]int // BODY key value to its number
	text  map[string]int // TEXT key value to its number
	docs  []int64        // per message of the view: its index document, -1 none; nil: no index
	cands []*roaring.Bitmap
	sure  []*roaring.Bitmap // per key, the documents the index knows contain it; may be nil
}

type contentKeyDesc struct {
	value string
	text  bool
}

func (p *contentPlan) doc(i int) int64 {
	if p.docs == nil {
		return -1
	}
	return p.docs[i]
}

// planContent numbers the BODY and TEXT keys of c and asks the folder's
// full-text index (when it has one) which messages, named by their keys,
// may contain each.
func (f *folder) planContent(c *imap.SearchCriteria, keys []string) *contentPlan {
	p := &contentPlan{body: map[string]int{}, text: map[string]int{}}
	p.collect(c)
	if len(p.keys) == 0 {
		return p
	}
	idx := f.ftsIndex()
	if idx == nil {
		return p
	}
	needles := make([]fts.Needle, len(p.keys))
	for i, k := range p.keys {
		needles[i] = fts.Needle{Trigrams: imapmsg.KeyTrigrams(k.value), Text: k.text}
		if w, ok := imapmsg.KeyWord(k.value); ok {
			needles[i].Word = w
		}
	}
	a, err := idx.Query(keys, needles)
	if err != nil {
		f.log.Warn("full-text index unreadable, scanning; it is rebuilt", "err", err)
		f.ftsKick()
		return p
	}
	p.docs, p.cands, p.sure = a.Docs, a.Cands, a.Sure
	return p
}

func (p *contentPlan) collect(c *imap.SearchCriteria) {
	for _, v := range c.Body {
		if _, ok := p.body[v]; !ok {
			p.body[v] = len(p.keys)
			p.keys = append(p.keys, contentKeyDesc{value: v})
		}
	}
	for _, v := range c.Text {
		if _, ok := p.text[v]; !ok {
			p.text[v] = len(p.keys)
			p.keys = append(p.keys, contentKeyDesc{value: v, text: true})
		}
	}
	for i := range c.Not {
		p.collect(&c.Not[i])
	}
	for i := range c.Or {
		p.collect(&c.Or[i][0])
		p.collect(&c.Or[i][1])
	}
}
