#!/bin/sh
# How a VM ends: debug-exit passes its value through, the two reset paths end vmmon with 0, a
# triple fault ends it with 2 and a register dump on stderr.
# Usage: exits.sh VMMON IMG_EXIT42 IMG_EXIT256 IMG_RESET_KBD IMG_RESET_CF9 IMG_TRIPLE
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1
require_kvm
scratch

run() { # run IMAGE: sets status and leaves stderr in $tmp/err
	timeout 30 "$vmmon" --kernel "$1" --serial off </dev/null 2>"$tmp/err"
	status=$?
}

run "$2"
[ "$status" -eq 42 ] || fail "debug-exit 42: status $status"
echo "ok: debug-exit value 42 is the exit status"
run "$3"
[ "$status" -eq 255 ] || fail "debug-exit 256: status $status, expected 255 (never 0)"
echo "ok: debug-exit value 256 is clamped to 255, not truncated to success"
run "$4"
[ "$status" -eq 0 ] || fail "i8042 reset: status $status"
echo "ok: i8042 reset (0xFE to port 0x64) ends vmmon with 0"
run "$5"
[ "$status" -eq 0 ] || fail "0xCF9 reset: status $status"
echo "ok: reset control register (0x06 to port 0xCF9) ends vmmon with 0"
run "$6"
cat "$tmp/err"
[ "$status" -eq 2 ] || fail "triple fault: status $status, expected 2"
grep -q 'triple fault' "$tmp/err" || fail "no 'triple fault' report"
grep -q 'rbx 00000000dead0000' "$tmp/err" || fail "no register dump"
grep -q 'code at rip: 0f 0b' "$tmp/err" || fail "no instruction bytes (ud2) in the dump"
echo "ok: triple fault ends vmmon with 2 and dumps the registers"
