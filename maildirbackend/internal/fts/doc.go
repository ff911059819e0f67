// Package fts is the full-text index of a folder for SEARCH BODY and
// TEXT. For each message (a document, named by its Maildir key) it keeps
// the set of byte trigrams of its decoded, case-folded text, as posting
// bitmaps (roaring) per trigram, and the set of its words (the same text
// split at separators, imapmsg.IsSeparator), as a dictionary of words
// per segment, each with a posting bitmap, plus a flag for the documents
// some of whose words were not recorded (cut for their length).
//
// Trigrams answer which messages may contain a key: a message lacking
// one of the key's trigrams cannot contain it, so the index never misses
// a match, and the caller confirms the candidates by reading them. A key
// without separators is answered by the dictionaries instead, exactly:
// it occurs in a text exactly when it occurs inside one of the text's
// words, so the documents with a word containing it (a substring search
// of the dictionary) contain it, and of the others only the flagged ones
// may (those are read).
//
// The index is a directory of immutable segment files (segment.go,
// dict.go), written atomically, plus the documents added since the last
// flush in memory. A segment that does not read back whole, or is of an
// older format, is removed and its documents count as not indexed; a
// crash loses only what was not yet flushed. Documents of expunged
// messages stay until a merge ([Index.Compact]) leaves them out.
package fts
