#!/bin/sh
# Boots one guest program under vmmon and checks its transcript and exit status.
# Usage: run-guest.sh VMMON GUEST_ELF PROGRAM CPUS [MEMORY]
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2 prog=$3 cpus=$4 memory=${5:-512M}
require_kvm
scratch

timeout 120 "$vmmon" --kernel "$guest" --cmdline "run=$prog" --cpus "$cpus" \
	--memory "$memory" \
	--serial stdio </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
tr -d '\r' <"$tmp/out" >"$tmp/clean"
cat "$tmp/clean"
[ -s "$tmp/err" ] && { echo "--- stderr:"; cat "$tmp/err"; }

[ "$status" -eq 0 ] || fail "vmmon exited with $status, expected 0 (guest pass)"
last=$(tail -n 1 "$tmp/clean")
[ "$last" = "guest: PASS $prog" ] || fail "last line is '$last', expected 'guest: PASS $prog'"
grep -q '^vmmon guest ' "$tmp/clean" || fail "no banner line"
case $prog in
hello)
	grep -q "^cpus: $cpus\$" "$tmp/clean" || fail "hello did not report $cpus CPUs"
	grep -q "^cmdline: run=hello" "$tmp/clean" || fail "hello did not echo the cmdline"
	grep -q '^mem:' "$tmp/clean" || fail "hello printed no memory map"
	if [ "$memory" = 5G ]; then # 3 GiB below the PCI hole, 2 GiB from 4 GiB on
		grep -q '^mem: 0x0000000000100000-0x00000000bfffffff ram' "$tmp/clean" &&
			grep -q '^mem: 0x0000000100000000-0x000000017fffffff ram' "$tmp/clean" ||
			fail "no RAM split around the PCI hole in the memory map"
	fi
	;;
selftest)
	n=$(grep -c '^cpu [0-9]*: online' "$tmp/clean")
	[ "$n" -eq "$cpus" ] || fail "$n of $cpus vCPUs reported in"
	;;
esac
echo "ok: $prog on $cpus vCPU(s)"
