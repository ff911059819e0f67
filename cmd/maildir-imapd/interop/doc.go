// Package interop holds the interoperability tests of maildir-imapd with the
// real programs it replaces or sits next to: a private Dovecot 2.3 instance
// and a private Postfix instance, each started from a configuration written
// into the test's temporary directory and stopped at cleanup.
//
// The package has no code outside its _test.go files. It owns these checks:
//
//   - TestSwap_dovecotFirst: Dovecot assigns UIDs, keywords, folders and
//     subscriptions; maildir-imapd, started on the same Maildir after
//     Dovecot stopped, reports exactly the same state.
//   - TestSwap_imapdFirst: the other way round; Dovecot must not log uidlist
//     corruption.
//   - TestConcurrent_bothServers: both servers on one Maildir while
//     messages are delivered, flagged and expunged through both servers and
//     directly on disk; at the end both list the same messages with the
//     same UIDs, flags and keywords, which equal what is on disk.
//   - TestSortThread_dovecotAnswers: the Dovecot answers to SORT and THREAD
//     that maildirbackend/imapsort's tests replay are what this machine's
//     Dovecot answers (its testdata/capture.sh, run again).
//   - TestPostfix_virtualIdle: Postfix's virtual(8) delivers over SMTP into a
//     virtual Maildir; an IDLE client of maildir-imapd gets the EXISTS. The
//     latency from the DATA command's 250 reply to EXISTS is printed.
//   - BenchmarkSideBySide: the same commands (SELECT, FETCH 1:* (FLAGS),
//     UID SEARCH UNSEEN, FETCH 1:* (ENVELOPE), UID FETCH of 100 BODY.PEEK[])
//     timed against Dovecot and maildir-imapd on one generated INBOX
//     (MAILDIR_IMAPD_BENCH_N messages, 10,000 by default), warm and in a
//     new server process, with a raw client that costs both the same; wall
//     and server CPU medians side by side (contrib/bench/README.md).
//
// contrib/postfix and contrib/MIGRATING.md describe the same configurations
// and steps. The tests need dovecot-imapd, dovecot-core and postfix
// installed, and the Postfix test needs root. A test whose program is
// missing (or that needs root) is skipped, naming the package to install,
// unless MAILDIR_IMAPD_E2E_REQUIRE=1, which .ci/run sets: then it fails.
// Tests here call requireTool(t, name, pkg), requireFile and requireRoot(t)
// for that. Running as root, Dovecot refuses mail access as uid 0, so the
// Maildirs belong to "nobody" and maildir-imapd runs as that user, as a
// vmail setup would; as another user, everything runs as that user.
package interop
