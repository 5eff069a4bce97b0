#!/bin/sh
# A program name the guest does not know fails the run: status 1, a FAIL last line that names
# the known programs.
# Usage: unknown-program.sh VMMON GUEST_ELF
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2
require_kvm
scratch
timeout 60 "$vmmon" --kernel "$guest" --cmdline run=nosuch --serial stdio </dev/null >"$tmp/out"
status=$?
tr -d '\r' <"$tmp/out"
[ "$status" -eq 1 ] || fail "status $status, expected 1"
last=$(tr -d '\r' <"$tmp/out" | tail -n 1)
case $last in
"guest: FAIL nosuch: unknown program"*hello*selftest*) echo "ok" ;;
*) fail "last line '$last'" ;;
esac
