#!/bin/sh
# Boots Debian's cloud kernel (a real bzImage) under vmmon until it prints its banner, the
# command line and the e820 map: that proves the zero page, e820, cmdline and 64-bit entry.
# Ring-0 guest code is emulated on this project's hosts, so the banner takes about two minutes;
# the kernel then stops on an instruction the emulator lacks (bench/README.md, "This machine"),
# so the test ends at the banner. The kernel package is cached outside the repository.
# Usage: linux-banner.sh VMMON
set -u
. "$(dirname "$0")/lib.sh"
vmmon=$1
require_kvm
scratch
cache=${VMMON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmmon}
mkdir -p "$cache" || fail "cannot create the cache directory $cache"

kernel=$(ls "$cache"/vmlinuz-*-cloud-amd64 2>/dev/null | tail -n 1)
if [ -z "$kernel" ]; then
	command -v apt-get >/dev/null || skip "no apt-get: cannot fetch Debian's kernel"
	resolve() {
		apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image-/ {print $2; exit}'
	}
	pkg=$(resolve)
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -q >/dev/null 2>&1 # a fresh machine may have no package lists
		pkg=$(resolve)
	fi
	[ -n "$pkg" ] || skip "apt-cache does not know linux-image-cloud-amd64 (run apt-get update)"
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
		skip "apt-get download $pkg failed: no network or no Debian archive"
	dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' ||
		fail "cannot extract the kernel from $pkg"
	cp "$tmp"/boot/vmlinuz-* "$cache"/ || fail "cannot fill the cache"
	kernel=$(ls "$cache"/vmlinuz-*-cloud-amd64 | tail -n 1)
fi
echo "kernel: $kernel"

cmdline="console=ttyS0 earlyprintk=serial,ttyS0,115200 vmmon-test=1"
start=$(date +%s)
"$vmmon" --kernel "$kernel" --cmdline "$cmdline" --memory 512M --serial "file=$tmp/serial" \
	</dev/null 2>"$tmp/err" &
pid=$!
limit=${VMMON_LINUX_TIMEOUT:-480}
found=""
while kill -0 "$pid" 2>/dev/null; do
	if grep -q 'BIOS-e820: .*usable' "$tmp/serial" 2>/dev/null &&
		grep -q '^.\{0,20\}Linux version' "$tmp/serial"; then
		found=yes
		break
	fi
	[ $(($(date +%s) - start)) -ge "$limit" ] && break
	sleep 1
done
elapsed=$(($(date +%s) - start))
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
tr -d '\r' <"$tmp/serial" | head -n 20
[ -n "$found" ] || { cat "$tmp/err"; fail "no banner within ${elapsed}s"; }
grep -q "Command line: $cmdline" "$tmp/serial" || fail "the kernel did not see the command line"
grep -q 'BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable' "$tmp/serial" ||
	fail "the kernel did not see vmmon's e820 map"
echo "ok: Linux banner after ${elapsed}s"
