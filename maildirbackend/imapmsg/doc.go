// Package imapmsg turns one stored RFC 5322 message into what IMAP FETCH and
// SEARCH need: the ENVELOPE and BODYSTRUCTURE (as go-imap v2 types, shaped to
// match what Dovecot 2.3 reports), RFC822.SIZE, BODY[...] and BINARY[...]
// sections, and header/body/text substring matching for SEARCH.
//
// It owns message parsing only. It knows nothing about Maildir, UIDs or
// flags: the caller opens the file and hands over an [io.Reader].
//
// Stored messages usually have bare LF line endings (Dovecot's
// mail_save_crlf = no, Postfix), sometimes CRLF, sometimes a mix or garbage.
// Everything IMAP sees is the CRLF form: every LF not preceded by CR becomes
// CRLF, and all sizes and section bytes are counted in that form.
//
// Nothing here fails on malformed content: a file that is not valid RFC 5322
// still gets an envelope (with NIL fields) and a text/plain body structure,
// as Dovecot does. Only I/O errors are returned.
//
// All functions are safe for concurrent use; a [Parsed] is immutable once
// returned.
package imapmsg
