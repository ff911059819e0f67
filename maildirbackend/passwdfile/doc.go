// Package passwdfile owns the users of maildir-imapd: it reads Dovecot
// passwd-file user databases, verifies passwords in the schemes that
// self-hosters' files contain, hashes new passwords for `maildir-imapd passwd`,
// and expands Dovecot-style mail locations (`%u`, `%n`, `%d`, `~`) into a
// user's Maildir path.
//
// # File format
//
// One user per line, as Dovecot's passwd-file driver reads it:
//
//	user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
//
// Every field after the password may be missing or empty. Blank lines and lines
// starting with `#` are skipped. The user may be `name@domain` for virtual
// domains. extra_fields is everything after the seventh colon, split on spaces
// into `key=value` pairs (a bare `key` has the value ""), for example
// `userdb_mail=maildir:/srv/mail/%d/%n`.
//
// User names are matched case-insensitively, as with Dovecot's default
// auth_username_format=%Lu. When a user appears twice the first line decides,
// as in Dovecot, and the second is reported as a problem; if the first line is
// itself bad, the user is left out rather than taken from the later line.
//
// # Password schemes
//
// A password without a `{SCHEME}` prefix uses CRYPT, which recognises the
// hash by its prefix: `$6$` (SHA512-CRYPT), `$5$` (SHA256-CRYPT), `$1$`
// (MD5-CRYPT), `$2y$`/`$2b$`/`$2a$` (BLF-CRYPT), `$argon2id$` and `$argon2i$`.
// Explicit schemes: PLAIN, CLEAR, CLEARTEXT, CRYPT, SHA512-CRYPT, SHA256-CRYPT,
// MD5-CRYPT (alias MD5), BLF-CRYPT, ARGON2ID, ARGON2I, and the base64 (or hex,
// with a `.HEX` suffix) digests SHA, SHA1, SSHA, SHA256, SSHA256, SHA512 and
// SSHA512. Scheme names are case-insensitive. Every comparison of secret
// material is constant-time. A line with an unknown scheme or a malformed hash
// is reported by [Parse] with its line number and left out. Dovecot's
// `nopassword` extra field is not honoured: an empty password field means the
// user cannot log in.
//
// # Reloading
//
// [DB] wraps a file path and re-reads the file whenever its size, mtime or
// identity changes, so adding a user needs no restart.
package passwdfile
