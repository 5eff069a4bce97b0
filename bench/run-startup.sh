#!/bin/sh
# Startup and memory figures for vmmon, side by side with QEMU TCG, into results/startup.md.
# Usage: bench/run-startup.sh [BUILD_DIR] [RUNS]     (after `make build`)
set -eu
build=${1:-build}
runs=${2:-30}
here=$(dirname "$0")
out="$here/results/startup.md"
qemu=""
command -v qemu-system-x86_64 >/dev/null && qemu=--qemu
{
	echo "# vmmon startup, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs"
	echo
	echo "Command: \`bench/run-startup.sh $build $runs\`"
	echo
	"$build/bench/startup" --runs "$runs" $qemu "$build/monitor/vmmon" \
		"$build/guest-drivers/guest.elf" "$build/tests/integration/tiny-ok.elf"
} | tee "$out"
