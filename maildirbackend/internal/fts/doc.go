// Package fts is the full-text index of a folder for SEARCH BODY and
// TEXT: for each message (a document, named by its Maildir key), the set
// of byte trigrams of its decoded, case-folded text, as posting bitmaps
// (roaring) per trigram. It answers which messages may contain a key: a
// message lacking one of the key's trigrams cannot contain it, so the
// index never misses a match; the caller confirms the candidates by
// reading them (false positives are possible, false negatives are not).
//
// The index is a directory of immutable segment files (segment.go),
// written atomically, plus the documents added since the last flush in
// memory. A segment that does not read back whole is removed and its
// documents count as not indexed; a crash loses only what was not yet
// flushed. Documents of expunged messages stay until a merge
// ([Index.Compact]) leaves them out.
package fts
