// Package e2e holds the end-to-end tests of maildir-imapd: TestMain builds
// the real binary once, each test starts `maildir-imapd serve` from a TOML
// configuration on loopback ports, and real clients talk to it: go-imap's
// imapclient, a raw wire client, mbsync (isync) and curl. Deliveries are
// real renames into a Maildir's new/, as an MTA does them.
//
// The package has no non-test code. The external clients are required: a
// missing mbsync or curl fails the test (there is no skip that counts as a
// pass). .ci/run installs them and sets MAILDIR_IMAPD_E2E_REQUIRE=1; locally,
// `apt-get install isync curl` does.
package e2e
