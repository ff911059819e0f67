// Package imapd is maildir-imapd's IMAP protocol engine: the command
// parser, the connection state machine (RFC 9051 and RFC 3501), the
// response encoder, STARTTLS, SASL PLAIN and LOGIN, literals (LITERAL+,
// LITERAL-, binary literals), IDLE and COMPRESS=DEFLATE.
//
// It owns the wire and nothing else: a backend implements [Session] (the
// method set of go-imap v2's imapserver.Session, with this package's
// writers) and the optional interfaces of the extensions it offers
// ([SessionSort], [SessionThread], ...); the engine advertises an
// extension only when the session implements it. Each command lives in a
// file of its own and registers its handler.
//
// Every parse error is a tagged BAD and the connection lives on; a literal
// the server refuses is never read as commands; every read and write has
// a deadline; a panic in a handler is a NO [SERVERBUG], not a crash.
package imapd
