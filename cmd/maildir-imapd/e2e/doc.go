// Package e2e holds the end-to-end tests of maildir-imapd: TestMain builds
// the real binary once, each test starts `maildir-imapd serve` from a TOML
// configuration on loopback ports, and real clients talk to it: go-imap's
// imapclient, a raw wire client, mbsync (isync), offlineimap, curl, and
// mutt (in tmux). Deliveries are real renames into a Maildir's new/, as an
// MTA does them. The demo's printed hints (tail, curl, mutt, the delivery
// command) are run exactly as printed.
//
// The package has no non-test code. A test whose external client (mbsync,
// offlineimap, curl, mutt, tmux) is not installed is skipped, with a
// message naming the Debian package, so that `go test ./...` passes on a
// contributor's machine; with MAILDIR_IMAPD_E2E_REQUIRE=1, which .ci/run
// sets, it fails instead.
// `apt-get install isync offlineimap curl mutt tmux` installs them all.
package e2e
