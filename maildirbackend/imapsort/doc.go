// Package imapsort orders and threads messages as IMAP SORT and THREAD
// define: SORT (RFC 5256) with the DISPLAYFROM and DISPLAYTO keys of
// SORT=DISPLAY (RFC 5957), and THREAD=ORDEREDSUBJECT and
// THREAD=REFERENCES (RFC 5256). It holds the algorithms only: no protocol
// parsing and no I/O. The caller (the IMAP engine) searches the mailbox,
// fills one [Message] per matching message from its parsed header, and
// writes the answer:
//
//   - SORT: [Sort] returns the IDs in order, for "* SORT 3 1 2".
//   - ESORT (RFC 5267 section 3.1): the same order. MIN is its first ID and
//     MAX its last, ALL lists it in sort order (with ascending ranges only,
//     section 3.2), COUNT is its length.
//   - THREAD: [OrderedSubject] or [References] returns the threads, and
//     [Format] writes them for "* THREAD (1 2)(3 (4)(5))".
//
// [BaseSubject] is the base subject of RFC 5256 section 2.1.
//
// An ID is whatever the answer lists: sequence numbers for SORT and THREAD,
// UIDs for UID SORT and UID THREAD. Both orders agree, so ties (messages
// equal under every sort criterion, or with the same sent date) are broken
// by ID, ascending, which is RFC 5256's sequence number order.
//
// # Collation and dates
//
// Strings compare with the i;unicode-casemap collation (RFC 5051), which
// RFC 5256 section 7 requires: each character is titlecased and fully
// decomposed (NFKD), so that "apple", "APPLE" and a fullwidth "Ａpple" are
// equal, and "e" sorts before "é" (an "E" and a combining accent). An absent
// header field is the empty string, which sorts first. Dates compare to the
// second, in UTC: the sent date is the Date field (Message.Date), or
// INTERNALDATE (Message.Arrival) when it is absent or unparseable (RFC 5256
// section 2.2).
//
// # Checked against Dovecot
//
// The tests compare every algorithm with the answers of Dovecot 2.3.19
// (testdata/capture.sh) for 219 fixture messages, and they agree on all of
// them, including:
//   - FROM, TO and CC compare the addr-mailbox only; DISPLAYFROM and
//     DISPLAYTO the display name, else mailbox@host (RFC 5957 section 3).
//   - Messages with an empty base subject form one ORDEREDSUBJECT thread,
//     but are never merged by subject in REFERENCES (RFC 5256 step 5.B.ii).
//   - A thread whose root is a missing parent of several messages is
//     written "((3)(5))".
//   - Sorting keys and THREAD's subject grouping extract the base subject
//     from the casemapped subject, as Dovecot does, so that a fullwidth
//     "ＲＥ：" is a reply prefix. [BaseSubject] itself works on the subject
//     as given and keeps its case; the two differ only for such
//     compatibility characters.
//
// # Known differences
//
// Dovecot's i;unicode-casemap tables depart from RFC 5051 for a few
// characters, and this package follows RFC 5051 (titlecase and full
// decomposition, repeated until nothing changes, with Go's Unicode tables):
//   - Dovecot does not titlecase what a decomposition yields: "ﬁsh" and
//     "ﬀ" sort as "fish" and "ff" after all of ASCII; here "ﬁsh" equals
//     "fish". "№" differs from "No" there too.
//   - Dovecot leaves the digraphs U+01C4 to U+01CC ("ǅ", "ǈ") undecomposed,
//     and decomposes U+212B ANGSTROM SIGN only to U+00C5 "Å", which it
//     then does not equal to "Å"; here they equal "DŽ", "LJ", and "A" with
//     a combining ring.
//
// Such subjects and names sort, and group into threads, differently. The
// 48 words of testdata/collation, on which the two agree, cover the rest:
// German, Greek, Turkish, Hangul, fullwidth and mathematical letters,
// combining marks, ligature-free compatibility forms.
//
// All functions are safe for concurrent use and do not modify their
// arguments.
package imapsort
