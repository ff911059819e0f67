// Package mutf7 owns the IMAP modified UTF-7 encoding of mailbox names
// (RFC 3501 section 5.1.3), used by Dovecot on disk (folder directories,
// subscriptions) and by IMAP4rev1 clients on the wire.
//
// Printable US-ASCII (0x20..0x7e) stands for itself except '&', which is
// written "&-". Every other run of characters is written as '&', the
// modified base64 ("," instead of "/", no padding) of its UTF-16BE form, and
// '-'. Example: "Entwürfe" is "Entw&APw-rfe".
package mutf7
