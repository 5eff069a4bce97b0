#!/bin/sh
# Bad input never crashes vmmon: each case must exit with status 1 and print exactly one line,
# "vmmon: ..." naming the problem, on stderr.
# Usage: bad-input.sh VMMON GUEST_ELF IMG_OK IMG_HOLE IMG_HIGH IMG_NONOTE
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2 img_ok=$3 img_hole=$4 img_high=$5 img_nonote=$6
require_kvm
scratch
failures=0

# expect WORDS CMD...: runs CMD, checks status 1 and one stderr line containing WORDS. A VM
# that starts instead of being refused is stopped after 20 s (timeout's status, 124).
expect() {
	words=$1
	shift
	timeout 20 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	lines=$(wc -l <"$tmp/err")
	msg=$(cat "$tmp/err")
	if [ "$status" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q "^vmmon: .*$words" "$tmp/err"; then
		echo "FAIL: expected status 1 and one line with '$words'; got status $status, $lines line(s):"
		echo "$msg" | sed 's/^/    /'
		failures=$((failures + 1))
	else
		echo "ok: $msg"
	fi
}

# The good image runs: the cases below fail for the reason given, not for a broken setup.
"$vmmon" --kernel "$img_ok" --serial off </dev/null || fail "the good tiny image did not run"

# /dev/kvm missing or not openable
VMMON_KVM_DEVICE=/nonexistent/kvm expect "no such device; load the KVM module" \
	"$vmmon" --kernel "$guest"
VMMON_KVM_DEVICE=/dev/null expect "/dev/null is not a KVM device" "$vmmon" --kernel "$guest"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	if setpriv --reuid=65534 --regid=65534 --clear-groups test -w /dev/kvm; then
		echo "note: /dev/kvm is writable by nobody here; the EACCES case cannot be made"
	else
		expect "permission denied; add yourself to its group" \
			setpriv --reuid=65534 --regid=65534 --clear-groups "$vmmon" --kernel "$guest"
	fi
else
	echo "note: not root, the EACCES case is not run"
fi

# images that are not images
printf 'just some text, not a kernel\n' >"$tmp/text"
expect "neither an ELF file (PVH) nor a Linux bzImage" "$vmmon" --kernel "$tmp/text"
head -c 100 "$guest" >"$tmp/trunc.elf"
expect "truncated" "$vmmon" --kernel "$tmp/trunc.elf"
head -c 3000 "$guest" >"$tmp/trunc2.elf"
expect "truncated" "$vmmon" --kernel "$tmp/trunc2.elf"
# a bzImage header (boot flag, HdrS, protocol 2.15, 64-bit entry) whose kernel is cut off
head -c 1024 /dev/zero >"$tmp/trunc.bz"
printf '\004' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x1f1)) conv=notrunc 2>/dev/null
printf '\377\377\000\000' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x1f4)) conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x1fe)) conv=notrunc 2>/dev/null
printf 'HdrS\017\002' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x202)) conv=notrunc 2>/dev/null
printf '\001' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x211)) conv=notrunc 2>/dev/null
printf '\001' | dd of="$tmp/trunc.bz" bs=1 seek=$((0x236)) conv=notrunc 2>/dev/null
expect "bzImage is truncated" "$vmmon" --kernel "$tmp/trunc.bz"
: >"$tmp/empty"
expect "empty" "$vmmon" --kernel "$tmp/empty"
expect "not a regular file" "$vmmon" --kernel "$tmp"
expect "cannot open" "$vmmon" --kernel "$tmp/missing"
expect "no PVH entry note" "$vmmon" --kernel "$img_nonote"

# device options: a MAC address must be six pairs of hex digits, and unicast
for mac in zz:54:00:12:34:56 01:00:00:00:00:01 52:54:00:12:34:5 52:54:00:12:34:567 \
	" 52:54:00:12:34:56" 52-54-00-12-34-56 +5:54:00:12:34:56; do
	expect "mac=.*give a unicast address" "$vmmon" --kernel "$guest" --net "tap=t0,mac=$mac"
done

# images that do not fit
expect "hole of the memory map" "$vmmon" --kernel "$img_hole"
expect "raise --memory" "$vmmon" --kernel "$img_high" --memory 64M
"$vmmon" --kernel "$img_high" --memory 256M --serial off </dev/null ||
	{ echo "FAIL: the high image should run with enough memory"; failures=$((failures + 1)); }
long=$(head -c 5000 /dev/zero | tr '\0' 'a')
expect "shorten --cmdline" "$vmmon" --kernel "$guest" --cmdline "$long"
truncate -s 100M "$tmp/big.cpio"
expect "initramfs .* does not fit.*raise --memory" "$vmmon" --kernel "$guest" \
	--initramfs "$tmp/big.cpio" --memory 64M
expect "--initramfs .*cannot open" "$vmmon" --kernel "$guest" --initramfs "$tmp/missing"

# command lines
expect "no --kernel or --firmware given" "$vmmon"
expect "--cpus 0" "$vmmon" --kernel "$guest" --cpus 0
expect "--cpus 999" "$vmmon" --kernel "$guest" --cpus 999
expect "--memory lots" "$vmmon" --kernel "$guest" --memory lots
expect "between 4M and 1T" "$vmmon" --kernel "$guest" --memory 1M
expect "unknown option --bogus" "$vmmon" --kernel "$guest" --bogus
expect "--serial tty" "$vmmon" --kernel "$guest" --serial tty
expect "--serial file=.*cannot open" "$vmmon" --kernel "$guest" --serial "file=$tmp/no/such/dir"

# ATA disks: a file that is not there, a fifth disk, options an ATA disk does not have
expect "--disk path=.*cannot open" "$vmmon" --kernel "$guest" --disk "path=$tmp/missing,transport=ata"
truncate -s 1M "$tmp/d.img"
expect "at most 4 ATA disks" "$vmmon" --kernel "$guest" --disk "path=$tmp/d.img,transport=ata" \
	--disk "path=$tmp/d.img,transport=ata" --disk "path=$tmp/d.img,transport=ata" \
	--disk "path=$tmp/d.img,transport=ata" --disk "path=$tmp/d.img,transport=ata"
expect "transport=ata has no queues=" "$vmmon" --kernel "$guest" \
	--disk "path=$tmp/d.img,transport=ata,queues=2"
expect "transport=ata: use pci or mmio" "$vmmon" --kernel "$guest" --net tap=t0,transport=ata
# The optimisations' switches: a name the device does not have, opt= on a device without
# them, two disks of one channel that disagree.
expect "opt=rap+fast: use all, none, or names joined by '+' from rap, tdmd, combine, coalesce" \
	"$vmmon" --kernel "$guest" --net tap=t0,model=pcnet,opt=rap+fast
expect "opt=, combine_frames=, combine_us= and coalesce_us= are model=pcnet's" "$vmmon" \
	--kernel "$guest" --net tap=t0,opt=all
expect "opt=dma: use all, none, or names joined by '+' from taskfile, data, bm, cmd" "$vmmon" \
	--kernel "$guest" --disk "path=$tmp/d.img,transport=ata,opt=dma"
expect "opt= is the ATA disk's" "$vmmon" --kernel "$guest" --disk "path=$tmp/d.img,opt=none"
expect "opt= differs from the other disk's on the primary channel" "$vmmon" --kernel "$guest" \
	--disk "path=$tmp/d.img,transport=ata,opt=data" --disk "path=$tmp/d.img,transport=ata"
: >"$tmp/tiny.img"
expect "smaller than one 512-byte sector" "$vmmon" --kernel "$guest" \
	--disk "path=$tmp/tiny.img,transport=ata"

# --firmware: images of a size no firmware has (not a multiple of 64K, or above 256K, empty),
# and the options that do not go with it
head -c 100 /dev/zero >"$tmp/fw100"
expect "--firmware .*100 bytes is not a firmware image's size" "$vmmon" --firmware "$tmp/fw100"
truncate -s 96K "$tmp/fw96k"
expect "98304 bytes is not a firmware image's size" "$vmmon" --firmware "$tmp/fw96k"
truncate -s 512K "$tmp/fw512k"
expect "524288 bytes is not a firmware image's size" "$vmmon" --firmware "$tmp/fw512k"
expect "--firmware .*empty" "$vmmon" --firmware "$tmp/empty"
expect "--firmware .*cannot open" "$vmmon" --firmware "$tmp/missing"
truncate -s 128K "$tmp/fw128k"
expect "--kernel and --firmware exclude each other" "$vmmon" --kernel "$guest" \
	--firmware "$tmp/fw128k"
expect "--initramfs and --cmdline go with --kernel" "$vmmon" --firmware "$tmp/fw128k" \
	--cmdline "console=ttyS0"
expect "boot=on picks the firmware's boot disk: it needs --firmware" "$vmmon" \
	--kernel "$guest" --disk "path=$tmp/d.img,boot=on"
expect "boot=on is given to 2 disks" "$vmmon" --firmware "$tmp/fw128k" \
	--disk "path=$tmp/d.img,boot=on" --disk "path=$tmp/d.img,transport=ata,boot=on"
expect "--disk ...,transport=mmio: a firmware cannot find virtio-mmio devices" "$vmmon" \
	--firmware "$tmp/fw128k" --disk "path=$tmp/d.img,transport=mmio"
expect "--rng ...,transport=mmio: a firmware cannot find" "$vmmon" --firmware "$tmp/fw128k" \
	--rng=transport=mmio
expect "--debugcon tty: use stdio, file=PATH or off" "$vmmon" --kernel "$guest" --debugcon tty
expect "--debugcon file=.*cannot open" "$vmmon" --kernel "$guest" \
	--debugcon "file=$tmp/no/such/dir"

# A tap another process holds: refused after a short wait, not a crash (the unwinding of a
# virtio-net that never opened its tap once touched queues it had not made).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	expect "--net tap=tbusy: cannot attach: Device or resource busy (another process has it" \
		unshare -n python3 -c "
import fcntl, os, struct, subprocess, sys
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack('16sH22x', b'tbusy', 0x0002 | 0x1000 | 0x4000))
sys.exit(subprocess.run(sys.argv[1:]).returncode)" "$vmmon" --kernel "$guest" --net tap=tbusy
else
	echo "SKIPPED the busy-tap case: it needs root and unshare(1) for a network namespace" >&2
fi

[ "$failures" -eq 0 ] || fail "$failures case(s) failed"
echo "all bad-input cases refused cleanly"
