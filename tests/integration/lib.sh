# Shared helpers for the integration tests (sourced). Exit status 77 makes meson report SKIP;
# every skip says why on stderr, loudly, so a run that tested nothing shows.

skip() {
	echo "SKIP: $*" >&2
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

require_kvm() {
	[ -e "${VMMON_KVM_DEVICE:-/dev/kvm}" ] || skip "no /dev/kvm on this host: KVM tests cannot run"
	[ -r "${VMMON_KVM_DEVICE:-/dev/kvm}" ] && [ -w "${VMMON_KVM_DEVICE:-/dev/kvm}" ] ||
		skip "/dev/kvm is not accessible to $(id -un): add the user to group kvm"
}

require_qemu() {
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)"
}

# A scratch directory removed on exit.
scratch() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmmon-test.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
}

# Serial transcript without carriage returns and without the lines that differ by nature
# between machines: the memory map ("mem:") and measured times and frequencies ("time:").
normalize() {
	tr -d '\r' <"$1" | grep -v -E '^(mem|time):'
}
