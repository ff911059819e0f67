#!/usr/bin/env bash
# run-push.sh: the push benchmarks of contrib/bench/README.md, on loopback.
#
#   contrib/bench/run-push.sh [single] [fanout] [fanout-tls] [burst] [idle-one] [idle-many]
#
# The default is the first four. idle-one and idle-many measure memory per
# idle connection, plain and implicit TLS: CONNS connections on user0's
# INBOX, or on CONNS users (one folder each).
#
# Environment: BIN (maildir-imapd binary; built from this tree if unset),
# DIR (work directory, default /tmp/maildir-imapd-bench), USERS (default
# 10000), CONNS (idle-*, default 2000, at most USERS), PORT/TLSPORT
# (default 11143/11993). Each scenario gets a freshly started server, so
# that its memory figures start from the same state.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DIR=${DIR:-/tmp/maildir-imapd-bench}
USERS=${USERS:-10000}
CONNS=${CONNS:-2000}
PORT=${PORT:-11143}
TLSPORT=${TLSPORT:-11993}
if [ -z "${BIN:-}" ]; then
	BIN=$DIR/maildir-imapd
	mkdir -p "$DIR"
	(cd "$here/../.." && go build -o "$BIN" ./cmd/maildir-imapd)
fi
scenarios=${*:-single fanout fanout-tls burst}
# The client runs from a copy of the binary: sharing the text pages with the
# server would move the server's PSS as the client starts and stops.
CLIENT=$DIR/bench-client
mkdir -p "$DIR"
cp "$BIN" "$CLIENT"

ulimit -n "$(ulimit -Hn)"
if [ ! -f "$DIR/users" ] || [ "$(wc -l < "$DIR/users")" -lt "$USERS" ]; then
	rm -rf "$DIR"/user* "$DIR/users"
	"$BIN" bench setup --dir "$DIR" --users "$USERS" --listen "127.0.0.1:$PORT" --listen-tls "127.0.0.1:$TLSPORT" >/dev/null
fi

pid=
stop_server() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap stop_server EXIT

start_server() {
	stop_server
	"$BIN" serve --listen "127.0.0.1:$PORT" --listen-tls "127.0.0.1:$TLSPORT" \
		--tls-cert "$DIR/cert.pem" --tls-key "$DIR/key.pem" \
		--users "$DIR/users" --mail-location "$DIR/%u/Maildir" --log-level warn \
		--max-connections-per-ip 0 --max-userip-connections 0 2>>"$DIR/serve.log" &
	pid=$!
	for _ in $(seq 100); do
		# Read the greeting and LOGOUT: closing with unread data would reset
		# the connection and make the server log an error.
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && read -r -t 2 _ <&3 && printf 'a LOGOUT\r\n' >&3 &&
			timeout 2 cat <&3 >/dev/null) 2>/dev/null; then
			sleep 0.5 # let the process settle before the "before" memory figure
			return 0
		fi
		sleep 0.1
	done
	echo "server did not start; see $DIR/serve.log" >&2
	exit 1
}

push() {
	echo "## bench push $*"
	timeout 300 "$CLIENT" bench push --users-file "$DIR/users" --maildir-pattern "$DIR/user%d/Maildir" \
		--pid "$pid" "$@" || echo "(exit status $?)"
	echo
}

for s in $scenarios; do
	case $s in
	single)
		start_server
		push --addr "127.0.0.1:$PORT" --conns 1 --users 1 --deliveries 20 --interval 200ms
		push --addr "127.0.0.1:$PORT" --conns 1 --users 1 --deliveries 10 --interval 1.7s
		push --addr "127.0.0.1:$PORT" --conns 1 --users 1 --deliveries 10 --interval 1.7s --mode flag
		push --addr "127.0.0.1:$PORT" --conns 1 --users 1 --deliveries 10 --interval 1.7s --mode expunge
		;;
	fanout)
		start_server
		push --addr "127.0.0.1:$PORT" --conns "$USERS" --users "$USERS" --deliveries 1000 --interval 10ms
		;;
	fanout-tls)
		start_server
		push --addr "127.0.0.1:$TLSPORT" --tls --conns "$USERS" --users "$USERS" --deliveries 1000 --interval 10ms
		;;
	idle-one | idle-many)
		users=1
		[ "$s" = idle-many ] && users=$CONNS
		start_server
		push --addr "127.0.0.1:$PORT" --conns "$CONNS" --users "$users" --deliveries 1 --interval 0
		start_server
		push --addr "127.0.0.1:$TLSPORT" --tls --conns "$CONNS" --users "$users" --deliveries 1 --interval 0
		;;
	burst)
		start_server
		push --addr "127.0.0.1:$PORT" --conns 200 --mode burst --burst 1000
		;;
	*)
		echo "unknown scenario $s (want single, fanout, fanout-tls, burst, idle-one or idle-many)" >&2
		exit 2
		;;
	esac
done
