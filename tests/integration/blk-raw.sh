#!/bin/sh
# virtio-blk on a raw block device (a loop device over a file) with direct=on, and direct=on on
# a plain file: blktest passes and the pattern it leaves is in the backing file. O_DIRECT needs
# aligned buffers; vmmon falls back to the page cache for the ones that are not.
# Usage: blk-raw.sh VMMON GUEST_ELF
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 guest=$2
require_kvm
command -v python3 >/dev/null || skip "python3 is not installed"
scratch

check_pattern() { # FILE
	python3 - "$1" <<'PY' || fail "the pattern in $1 is wrong"
import struct, sys
data = open(sys.argv[1], "rb").read(1 << 20)
for s in range(2048):
    for k, w in enumerate(struct.unpack_from("<64Q", data, s * 512)):
        if w != ((s << 8) | k) ^ 0x5A5A5A5A00000000:
            sys.exit("sector %d word %d: 0x%016x" % (s, k, w))
PY
}

blktest() { # DISK_OPTIONS
	timeout 120 "$vmmon" --kernel "$guest" --cmdline "run=blktest qd=16" --disk "$1" \
		</dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	tr -d '\r' <"$tmp/out" | grep -v '^time:'
	cat "$tmp/err"
	[ "$status" -eq 0 ] || fail "blktest on $1 exited with $status"
}

truncate -s 64M "$tmp/file.img"
blktest "path=$tmp/file.img,direct=on"
check_pattern "$tmp/file.img"
echo "ok: direct=on on a file"

[ "$(id -u)" -eq 0 ] || skip "loop devices need root (the file case passed)"
command -v losetup >/dev/null || skip "no losetup (util-linux): the file case passed"
truncate -s 64M "$tmp/dev.img"
loop=$(losetup -f --show "$tmp/dev.img" 2>"$tmp/lerr") ||
	skip "no loop device here ($(cat "$tmp/lerr")): the file case passed"
trap 'losetup -d "$loop"; rm -rf "$tmp"' EXIT
blktest "path=$loop,direct=on"
sync
check_pattern "$tmp/dev.img"
echo "ok: direct=on on the block device $loop"
