package imapmsg

import (
	"sync"
	"sync/atomic"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// charsetEncodings caches charsetEncoding's answers by lower-case name,
// at most maxCachedCharsets of them: names come from messages, so the
// cache stays bounded whatever they say.
var (
	charsetEncodings sync.Map // string to encoding.Encoding (nil: not found)
	cachedCharsets   atomic.Int32
)

const maxCachedCharsets = 256

// charsetEncoding returns the encoding of a MIME charset name (lower
// case) as go-message's charset.Reader finds it for names the IANA and
// WHATWG indexes know, or nil; the caller then falls back to
// charset.Reader, which also knows go-message's own aliases. Knowing the
// encoding lets a search decode through a pooled reader instead of a new
// transform.Reader per text part.
func charsetEncoding(name string) encoding.Encoding {
	if v, ok := charsetEncodings.Load(name); ok {
		enc, _ := v.(encoding.Encoding)
		return enc
	}
	enc, _ := ianaindex.MIME.Encoding(name)
	if enc == nil {
		enc, _ = ianaindex.MIME.Encoding("cs" + name)
	}
	if enc == nil {
		enc, _ = htmlindex.Get(name)
	}
	if cachedCharsets.Load() < maxCachedCharsets && cachedCharsets.Add(1) <= maxCachedCharsets {
		charsetEncodings.Store(name, enc)
	}
	return enc
}
