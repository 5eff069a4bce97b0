#!/bin/sh
# ioproxy's command line and process conventions: --help and --version, a one-line error and
# a non-zero status for every bad command line, --print-capabilities printing JSON that parses
# (vhost-user.json's schema), SIGTERM and SIGINT ending it with status 0, and --user dropping
# root and every capability but the ones it keeps (CAP_IPC_LOCK), with the seccomp filter on.
# Usage: ioproxy-cli.sh IOPROXY
set -u
. "$(dirname "$0")/lib.sh"
ioproxy=$1
scratch
truncate -s 1M "$tmp/disk.img"

"$ioproxy" --help | grep -q -- '--socket PATH' || fail "--help"
"$ioproxy" --version | grep -q '^ioproxy [0-9]' || fail "--version"
for caps in "--print-capabilities" "--socket x --bogus --print-capabilities" \
	"--net tap=t0 --print-capabilities"; do
	# shellcheck disable=SC2086
	"$ioproxy" $caps >"$tmp/caps" || fail "$caps: status $?"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["type"] in ("block","net"), d' \
		"$tmp/caps" || fail "$caps: not the schema's JSON: $(cat "$tmp/caps")"
done
"$ioproxy" --print-capabilities | grep -q '"features": \["read-only", "blk-file"\]' ||
	fail "block capabilities lack read-only and blk-file"

bad() { # bad WANT ARGS...: fails with one line naming WANT
	want=$1
	shift
	"$ioproxy" "$@" >"$tmp/out" 2>"$tmp/err" && fail "$*: accepted"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$*: not one line: $(cat "$tmp/err")"
	grep -q -- "$want" "$tmp/err" || fail "$*: '$(cat "$tmp/err")' lacks '$want'"
	echo "ok: $* -> $(cat "$tmp/err")"
}
bad "no device"
bad "unknown option" --socket "$tmp/s" --blk "path=$tmp/disk.img" --frobnicate
bad "socket(s)" --blk "path=$tmp/disk.img"
bad "cannot open" --socket "$tmp/s" --blk "path=$tmp/missing.img"
bad "not a socket" --socket "$tmp/disk.img" --blk "path=$tmp/disk.img"
bad "not a listening socket" --fd=0 --blk "path=$tmp/disk.img"
bad "queues=" --socket "$tmp/s" --blk "path=$tmp/disk.img,queues=99"
bad "no such user" --socket "$tmp/s" --blk "path=$tmp/disk.img" --user no-such-user-here
bad "--poll" --socket "$tmp/s" --blk "path=$tmp/disk.img" --poll=-1
bad "--poll-window 2000: give a number from 0 to 1000" --socket "$tmp/s" \
	--blk "path=$tmp/disk.img" --poll-window=2000
bad "--poll-window is for event mode" --socket "$tmp/s" --blk "path=$tmp/disk.img" --poll \
	--poll-window=50

start() { # start ARGS...: an ioproxy serving $tmp/s, pid in $pid
	rm -f "$tmp/s"
	"$ioproxy" --socket "$tmp/s" --blk "path=$tmp/disk.img" "$@" 2>"$tmp/log" &
	pid=$!
	n=0
	while [ ! -S "$tmp/s" ]; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "ioproxy $* did not start: $(cat "$tmp/log")"
		kill -0 "$pid" 2>/dev/null || fail "ioproxy $* exited: $(cat "$tmp/log")"
		sleep 0.05
	done
}
stop() { # stop SIGNAL: it must exit with status 0
	kill "-$1" "$pid"
	wait "$pid"
	status=$?
	[ "$status" -eq 0 ] || fail "SIG$1: status $status: $(cat "$tmp/log")"
	echo "ok: SIG$1 -> exit 0"
}
start
stop TERM
start --poll=20 --threads 2
stop INT
start --poll-window=0
stop TERM
start --poll-window=1000 --threads 2
stop TERM

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0666 "$tmp/disk.img"
	chmod 0777 "$tmp"
	start --user nobody
	uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$pid/status")
	capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
	capbnd=$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")
	seccomp=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")
	nobody=$(id -u nobody)
	[ "$uid" = "$nobody$nobody$nobody$nobody" ] || fail "--user nobody: uids $uid"
	# CAP_IPC_LOCK is bit 14: 0x4000.
	[ "$capeff" = "0000000000004000" ] || fail "--user nobody: effective capabilities $capeff"
	[ "$capbnd" = "0000000000004000" ] || fail "--user nobody: bounding set $capbnd"
	[ "$seccomp" = "2" ] || fail "no seccomp filter (Seccomp: $seccomp)"
	echo "ok: --user nobody: uid $nobody, CapEff $capeff, CapBnd $capbnd, seccomp filter on"
	stop TERM
else
	echo "note: not root (or no user nobody): --user not tested"
fi
echo "ok: ioproxy command line and signals"
