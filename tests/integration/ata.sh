#!/bin/sh
# vmmon's PIIX IDE disk end to end, driven by a hand-written guest (images/ata.S) until the ATA
# guest driver exists: IDENTIFY, PIO and DMA reads and writes (LBA28, LBA48, MULTIPLE), flushes,
# SET FEATURES, an interrupt-driven read through the 8259s, and the bad inputs (an LBA past the
# end, zero counts crossing it, a data read before DRQ, PRD tables outside RAM, without EOT,
# shorter and longer than the transfer). The host fills each disk with a pattern, then checks
# that exactly the sectors the guest wrote changed, and changed to what it wrote. A rep insw of
# a sector must reach the device as one access (--stats), not one per word, and the DMA commands
# (good and bad tables) must go through the command doorbells of the default opt=all. With
# VMMON_ASAN pointing at the sanitizer build's vmmon, every run repeats under it.
# Usage: ata.sh VMMON IMG_RW IMG_RO IMG_MULTI
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1 img_rw=$2 img_ro=$3 img_multi=$4
require_kvm
command -v python3 >/dev/null || skip "python3 is not installed"
scratch

# make_disk FILE MIB: sector L byte k = (L*7 + k) & 0xff
make_disk() {
	python3 - "$1" "$2" <<'EOF'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, 'wb') as f:
    for lba in range(mib * 2048):
        f.write(bytes(((lba * 7 + k) & 0xff) for k in range(512)))
EOF
}

# check_disk FILE "LBA:SEED ..." : those sectors hold the guest's pattern of SEED (xor 0xa5),
# every other sector the host's.
check_disk() {
	python3 - "$1" "$2" <<'EOF' || fail "$1: the disk does not hold what the guest wrote"
import sys
path, spec = sys.argv[1], sys.argv[2]
written = dict((int(a, 0), int(b, 0)) for a, b in (w.split(':') for w in spec.split()))
data = open(path, 'rb').read()
bad = 0
for lba in range(len(data) // 512):
    key, seed = (0xa5, written[lba]) if lba in written else (0, lba)
    want = bytes((((seed * 7 + k) & 0xff) ^ key) for k in range(512))
    if data[lba * 512:(lba + 1) * 512] != want:
        print(f"{path}: sector {lba} is not the {'guest' if key else 'host'}'s", file=sys.stderr)
        bad += 1
        if bad > 5:
            break
sys.exit(1 if bad else 0)
EOF
}

# run VMMON IMAGE DISK-OPTIONS...: boots the image, which must pass.
run() {
	bin=$1 img=$2
	shift 2
	set --
	for d in $disks; do
		set -- "$@" --disk "$d"
	done
	timeout 120 "$bin" --kernel "$img" --stats "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	tr -d '\r' <"$tmp/out"
	grep -v '^vmmon: stats:' "$tmp/err"
	! grep -q 'Sanitizer\|runtime error' "$tmp/err" || fail "the sanitizers found a problem"
	[ "$status" -eq 0 ] || fail "$bin with $(basename "$img") exited with $status"
	[ "$(tr -d '\r' <"$tmp/out" | tail -n 1)" = "ata: PASS" ] || fail "the guest did not pass"
}

# stat NAME: a number from the primary channel's --stats line ("NAME N").
stat() {
	sed -n "s/^vmmon: stats: ata primary: .*$1 \([0-9]*\).*/\1/p" "$tmp/err"
}

# The sectors MODE 0 writes: 100-101 (PIO), 0x3000 (LBA48), 200-207 (MULTIPLE), 300-301 (DMA),
# 400 (write cache off).
rw_written="100:100 101:101 12288:12288 300:300 301:301 400:400"
for l in 200 201 202 203 204 205 206 207; do rw_written="$rw_written $l:$l"; done

all() { # all VMMON: the three images
	make_disk "$tmp/rw.img" 8
	disks="path=$tmp/rw.img,transport=ata"
	run "$1" "$img_rw"
	check_disk "$tmp/rw.img" "$rw_written"
	grep '^vmmon: stats: ata primary' "$tmp/err"
	reads=$(stat 'data-port reads') writes=$(stat 'data-port writes')
	# 18 sectors read with rep insw, in bursts of at most 1 KiB inside a page: 14 accesses,
	# and one word read before DRQ. Word by word it would be 4609.
	[ -n "$reads" ] && [ "$reads" -le 15 ] ||
		fail "PIO reads took $reads data-port accesses; one rep insw burst should be one"
	# The DMA cases (good and bad tables) ran with opt=cmd on (the default): their command
	# bytes and starts were doorbells.
	db=$(stat 'doorbells: commands')
	[ -n "$db" ] && [ "$db" -gt 0 ] || fail "no DMA command went through a doorbell"
	echo "ok: $1: read-write disk; PIO reads in $reads accesses, writes in $writes;" \
		"$db DMA commands by doorbell"

	make_disk "$tmp/ro.img" 8
	sum=$(cksum <"$tmp/ro.img")
	disks="path=$tmp/ro.img,transport=ata,readonly=on"
	run "$1" "$img_ro"
	[ "$(cksum <"$tmp/ro.img")" = "$sum" ] || fail "the read-only disk changed"
	echo "ok: $1: read-only disk: writes refused, the file unchanged"

	make_disk "$tmp/d0.img" 8
	make_disk "$tmp/d1.img" 4
	make_disk "$tmp/d2.img" 2
	disks="path=$tmp/d0.img,transport=ata path=$tmp/d1.img,transport=ata,direct=on"
	disks="$disks path=$tmp/d2.img,transport=ata"
	run "$1" "$img_multi"
	check_disk "$tmp/d0.img" "1:1"
	check_disk "$tmp/d1.img" "1:0x1001"
	check_disk "$tmp/d2.img" "1:0x2001"
	grep -q '^vmmon: stats: ata secondary' "$tmp/err" || fail "no stats for the secondary channel"
	echo "ok: $1: three disks: primary master and slave (direct=on), secondary master, IRQ 15"
}

all "$vmmon"
if [ -n "${VMMON_ASAN:-}" ] && [ -x "$VMMON_ASAN" ]; then
	all "$VMMON_ASAN"
else
	echo "note: VMMON_ASAN not set: the sanitizer build's vmmon did not run"
fi
