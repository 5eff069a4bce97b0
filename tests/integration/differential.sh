#!/bin/sh
# The reference check: a guest program's serial transcript under vmmon must match the one under
# QEMU TCG (pc machine, its own 16550, LAPIC, I/O APIC, PIT and SeaBIOS's MP table), except the
# lines that differ by nature (see normalize in lib.sh). Both runs must pass.
# Usage: differential.sh VMMON GUEST_ELF "PROGRAM [ARGS]" CPUS [EXIT_CODE [DIFFERING]]
#   EXIT_CODE: what the guest writes to debug-exit (default 0, a pass); DIFFERING: an extended
#   regex of further lines that differ by nature for this program (the caller says why).
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2 prog=$3 cpus=$4 code=${5:-0} differing=${6:-}
require_kvm
require_qemu
scratch

timeout 120 "$vmmon" --kernel "$guest" --cmdline "run=$prog" --cpus "$cpus" --memory 512M \
	--serial stdio </dev/null >"$tmp/vmmon.out" 2>"$tmp/vmmon.err"
vstatus=$?
# One socket per CPU: SeaBIOS lists only the first CPU of each package in its MP table.
timeout 300 qemu-system-x86_64 -accel tcg -kernel "$guest" -append "run=$prog" \
	-smp "$cpus,sockets=$cpus" -m 512 -device isa-debug-exit,iobase=0xf4,iosize=4 \
	-serial stdio -display none -no-reboot </dev/null >"$tmp/qemu.out" 2>"$tmp/qemu.err"
qstatus=$?

normalize "$tmp/vmmon.out" | grep -v -E "${differing:-^\$^}" >"$tmp/vmmon.txt"
normalize "$tmp/qemu.out" | grep -v -E "${differing:-^\$^}" >"$tmp/qemu.txt"
echo "=== vmmon (status $vstatus)"
tr -d '\r' <"$tmp/vmmon.out"
echo "=== qemu (status $qstatus)"
tr -d '\r' <"$tmp/qemu.out"
cat "$tmp/qemu.err"

[ "$vstatus" -eq "$code" ] || fail "vmmon exited with $vstatus, expected $code"
# QEMU's isa-debug-exit exits with (V << 1) | 1: 1 means the guest wrote 0.
qcode=$((code * 2 + 1))
[ "$qstatus" -eq "$qcode" ] || fail "qemu exited with $qstatus, expected $qcode (guest wrote $code)"
[ -s "$tmp/vmmon.txt" ] || fail "empty transcript"
if ! diff -u "$tmp/qemu.txt" "$tmp/vmmon.txt"; then
	fail "transcripts differ (- qemu, + vmmon)"
fi
echo "ok: $prog on $cpus vCPU(s): vmmon and QEMU transcripts match ($(wc -l <"$tmp/vmmon.txt") lines)"
