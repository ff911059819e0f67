// Maildir-imapd serves existing Maildir++ trees (written by Dovecot, Courier,
// Postfix, maildrop, mbsync) over IMAP, and pushes new mail to IDLE clients
// as soon as the MTA renames it into new/.
//
// This command only wires the packages together: flags and the TOML
// configuration, users, listeners and TLS, logging, and shutdown. The IMAP
// session lives in maildirbackend, users in maildirbackend/passwdfile.
//
// Usage:
//
//	maildir-imapd <command> [flags]
//
// Commands:
//
//	serve    serve Maildirs over IMAP (stops on SIGINT/SIGTERM with "* BYE")
//	demo     create a demo Maildir and serve it on 127.0.0.1:1143 (STARTTLS, self-signed)
//	tail     log in, IDLE on a folder and print every change as it arrives
//	passwd   hash a password read from stdin for the users file (alias: hash)
//	deliver  deliver a message from stdin into a user's Maildir (Dovecot's LDA)
//	check    validate the configuration, the users file and every Maildir
//	bench    measure push latency and throughput
//	version  print the version
//	help     list the commands; "help <command>" or "<command> -h" prints its flags
//
// Try it without any set-up:
//
//	maildir-imapd demo
//
// Watch a folder the way a push client sees it: every EXISTS, EXPUNGE and
// FETCH (FLAGS) the server sends during IDLE, with the wall-clock time and,
// given the Maildir on the same machine, the delay after the change on disk
// (from the mtime of new/ or cur/, whose resolution is the kernel's clock
// tick, a few milliseconds):
//
//	maildir-imapd tail --addr imap.example.org:143 --starttls --user me \
//	    --password-file ~/.config/imap-pw --folder INBOX --maildir ~/Maildir
//
// Serve the users of a Dovecot passwd-file, with TLS:
//
//	maildir-imapd passwd >> /etc/maildir-imapd/users    # then edit the line
//	maildir-imapd serve --users /etc/maildir-imapd/users \
//	    --mail-location '/var/mail/%d/%n' \
//	    --tls-cert /etc/ssl/imap.pem --tls-key /etc/ssl/imap.key
//
// Serve one Maildir for one user:
//
//	maildir-imapd serve --listen 127.0.0.1:143 --maildir ~/Maildir \
//	    --user me --password-file ~/.config/maildir-imapd/hash
//
// Every serve flag is also a key of the file given with --config, with _ for
// -, for example listen_tls = ":993"; flags override the file, and unknown
// keys are errors. See contrib/maildir-imapd.toml.
//
// Deliver mail over LMTP from Postfix (virtual_transport =
// lmtp:unix:maildir-imapd/lmtp; see contrib/postfix/main.cf-lmtp),
// pushed to IDLE clients before the LMTP reply:
//
//	maildir-imapd serve --config /etc/maildir-imapd.toml \
//	    --lmtp-listen /var/spool/postfix/maildir-imapd/lmtp
//
// Or where Dovecot's LDA was (mailbox_command, or a pipe(8) transport with
// -d ${recipient}); the flags are Dovecot's: -d user, -m mailbox,
// -f sender, -a address:
//
//	mailbox_command = /usr/local/bin/maildir-imapd deliver
//
// Plaintext authentication: on a listener bound to a loopback address
// (127.0.0.0/8, ::1, localhost), LOGIN and AUTHENTICATE work without TLS.
// On any other address they need TLS (STARTTLS, or the implicit-TLS listener
// of --listen-tls) unless --allow-insecure-auth is set; serve refuses to
// start a public plaintext listener that nobody could log in to.
//
// Many backends behind nginx's mail proxy (contrib/nginx/): --auth-http-listen
// answers nginx's auth_http requests from the users file (a user's host= and
// port= fields, or --backends), and --proxy-trusted makes the IMAP listeners
// read the PROXY protocol header of the proxy's connections, so that logs,
// throttles and caps see the client's address. --metrics-listen serves
// Prometheus metrics and /healthz.
//
// Exit status: 0 on success, 1 on error, 2 on a usage error. deliver exits
// with sysexits.h codes, as Postfix expects: 0 delivered, 64 usage, 65
// message too big, 67 unknown user, 75 temporary failure (full disk, I/O),
// 77 over quota, 78 configuration error (deferred).
package main
