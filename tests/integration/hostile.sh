#!/bin/sh
# A hostile driver (guest program "hostile") against vmmon's virtio-blk: every attack must be
# refused with an error status, a zero-length completion or NEEDS_RESET, the device must work
# after each, and vmmon must keep running. With VMMON_ASAN pointing at the sanitizer build's
# vmmon (make check sets it), that vmmon runs too: any out-of-bounds access fails the test.
# Usage: hostile.sh VMMON GUEST_ELF TRANSPORT
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2 transport=$3
require_kvm
scratch
truncate -s 64M "$tmp/disk.img"

run() { # run VMMON
	timeout 120 "$1" --kernel "$guest" --cmdline "run=hostile transport=$transport" \
		--disk "path=$tmp/disk.img,transport=$transport" --stats </dev/null \
		>"$tmp/out" 2>"$tmp/err"
	status=$?
	tr -d '\r' <"$tmp/out"
	grep -v '^vmmon: stats:' "$tmp/err"
	[ "$status" -eq 0 ] || fail "$1 exited with $status"
	[ "$(tr -d '\r' <"$tmp/out" | tail -n 1)" = "guest: PASS hostile" ] || fail "the guest failed"
	n=$(grep -c '^hostile: .*: \(refused\|device needs reset\|ignored\|served\)' "$tmp/out")
	[ "$n" -eq 13 ] || fail "$n of 13 attacks reported"
	resets=$(grep -c 'device needs reset$' "$tmp/err")
	[ "$resets" -eq 3 ] || fail "vmmon reported $resets resets needed, expected 3"
	! grep -q 'Sanitizer\|runtime error' "$tmp/err" || fail "the sanitizers found a problem"
	echo "ok: $1 survived 13 attacks over $transport"
}

run "$vmmon"
if [ -n "${VMMON_ASAN:-}" ] && [ -x "$VMMON_ASAN" ]; then
	run "$VMMON_ASAN"
else
	echo "note: VMMON_ASAN not set: the sanitizer build's vmmon did not run"
fi
