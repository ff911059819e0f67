// Package quota reads a user's quota rules in the syntax of Dovecot's quota
// plugin, so that the users file Dovecot reads gives the same limits here:
//
//	quota_rule  = *:storage=1G            the default rule: 1 GiB
//	quota_rule2 = *:messages=10000        and 10,000 messages
//	quota_rule3 = Trash:storage=+100M     Trash may hold 100 MiB more
//	quota_rule4 = Junk:ignore             Junk is not counted
//	quota_grace = 10%%                    a delivery may overshoot by this much
//
// A rule is "<mailbox mask>:<limits>". The mask "*" is the default rule,
// whose limits are the configuration's; "?" is a default rule that gives way
// to the limits of an existing maildirsize file. Other masks (with the
// wildcards * and ?) name mailboxes whose limits are the default's plus the
// rule's ("+100M", "-10%"), or which are not counted at all ("ignore").
// Limits are "storage=<n>" (KiB unless a unit follows), "bytes=<n>" and
// "messages=<n>", with the units B, k, M, G, T (powers of 1024) or "%" (of
// the default rule's limit, for mailbox rules only), several joined by ':';
// "backend=<n>S,<n>C" gives them in Maildir++'s own notation. See
// [FromFields] for how the users file's extra fields override the
// configuration, as Dovecot's userdb fields override its plugin settings.
package quota
