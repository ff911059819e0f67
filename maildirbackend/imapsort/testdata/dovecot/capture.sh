#!/usr/bin/env bash
# capture.sh: regenerates answers.txt, the answers of Dovecot's imap binary
# (Debian's dovecot-imapd, 2.3.19) to SORT and THREAD over the *.eml files
# of this directory. Run as root from this directory:
#
#	bash capture.sh >answers.txt
#
# Each message N (in file-name order) becomes sequence number N of a fresh
# Maildir INBOX; its X-Arrival header sets the file's mtime, which is its
# INTERNALDATE. Dovecot runs pre-authenticated as nobody, reading the
# commands below on standard input.
set -euo pipefail
imap=${DOVECOT_IMAP:-/usr/lib/dovecot/imap}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/Maildir/cur" "$dir/Maildir/new" "$dir/Maildir/tmp"
n=0
for f in [0-9]*.eml; do
	n=$((n + 1))
	name=$(printf '%d.M%dP1.fixture:2,' $((1700000000 + n)) "$n")
	cp "$f" "$dir/Maildir/cur/$name"
	arrival=$(sed -n 's/^X-Arrival: //p' "$f")
	touch -d "$arrival" "$dir/Maildir/cur/$name"
done
chown -R nobody:nogroup "$dir"

commands=(
	'FETCH 1:* (RFC822.SIZE INTERNALDATE)'
	'SORT (ARRIVAL) UTF-8 ALL'
	'SORT (REVERSE ARRIVAL) UTF-8 ALL'
	'SORT (CC) UTF-8 ALL'
	'SORT (REVERSE CC) UTF-8 ALL'
	'SORT (DATE) UTF-8 ALL'
	'SORT (REVERSE DATE) UTF-8 ALL'
	'SORT (FROM) UTF-8 ALL'
	'SORT (REVERSE FROM) UTF-8 ALL'
	'SORT (SIZE) UTF-8 ALL'
	'SORT (SUBJECT) UTF-8 ALL'
	'SORT (REVERSE SUBJECT) UTF-8 ALL'
	'SORT (TO) UTF-8 ALL'
	'SORT (DISPLAYFROM) UTF-8 ALL'
	'SORT (REVERSE DISPLAYFROM) UTF-8 ALL'
	'SORT (DISPLAYTO) UTF-8 ALL'
	'SORT (SUBJECT DATE) UTF-8 ALL'
	'SORT (SUBJECT REVERSE DATE) UTF-8 ALL'
	'SORT (FROM SUBJECT) UTF-8 ALL'
	'SORT (CC REVERSE SIZE) UTF-8 ALL'
	'SORT (REVERSE TO ARRIVAL) UTF-8 ALL'
	'SORT (SUBJECT) UTF-8 1:12'
	'THREAD ORDEREDSUBJECT UTF-8 ALL'
	'THREAD REFERENCES UTF-8 ALL'
	'THREAD ORDEREDSUBJECT UTF-8 1:12'
	'THREAD REFERENCES UTF-8 1:12'
	'THREAD REFERENCES UTF-8 13:22'
	'THREAD REFERENCES UTF-8 2:22'
)
# One session per command: Dovecot runs pipelined SORT and THREAD commands
# in parallel, so their untagged answers could not be told apart.
echo "# Answers of Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1) to the commands below; regenerate with capture.sh."
for c in "${commands[@]}"; do
	echo "C: $c"
	printf 'a SELECT INBOX\r\nb %s\r\nz LOGOUT\r\n' "$c" |
		setpriv --reuid=nobody --regid=nogroup --clear-groups env USER=nobody HOME="$dir" \
			"$imap" -o "mail_location=maildir:$dir/Maildir" -o first_valid_uid=1 2>/dev/null |
		tr -d '\r' | sed -n -e 's/^\* \(SORT\|THREAD\|[0-9]* FETCH\)\( \|$\)/S: &/p' -e 's/^b [A-Z]*/E: &/p' |
		grep -v '^E: b OK'
done
