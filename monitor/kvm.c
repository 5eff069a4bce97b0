/* SPDX-License-Identifier: MIT */
#include "kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_API_VERSION_EXPECTED 12

static const struct {
	int cap;
	const char *name;
	const char *why;
} required[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC, I/O APIC and local APICs"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "CPUID setup"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode support on Intel"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", "real-mode support"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "starting application processors"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts"},
};

static int check_caps(struct vmm_kvm *kvm, const char *path, struct host_err *err)
{
	int version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version < 0)
		return host_err_set(err, ENOTTY,
				    "%s is not a KVM device (KVM_GET_API_VERSION: %s); "
				    "point VMMON_KVM_DEVICE at /dev/kvm or unset it",
				    path, strerror(errno));
	if (version != KVM_API_VERSION_EXPECTED)
		return host_err_set(err, ENOTSUP, "%s speaks KVM API version %d, vmmon needs %d",
				    path, version, KVM_API_VERSION_EXPECTED);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0)
			return host_err_set(err, ENOTSUP,
					    "%s lacks %s, which vmmon needs for %s; "
					    "use a newer host kernel",
					    path, required[i].name, required[i].why);
	int max = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = max > 0 ? (unsigned)max : 4; /* the API's documented floor */
	kvm->emulation_failure_bytes =
		ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0;
	kvm->has_stats_fd = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
	kvm->ioeventfd_any_length =
		ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	int page = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	kvm->coalesced_page = page > 0 ? page : 0;
	kvm->coalesced_pio =
		page > 0 && ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
	kvm->run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size <= 0)
		return host_err_set(err, errno, "KVM_GET_VCPU_MMAP_SIZE failed: %s",
				    strerror(errno));
	return 0;
}

int vmm_kvm_open(struct vmm_kvm *kvm, const char *path, struct host_err *err)
{
	memset(kvm, 0, sizeof(*kvm));
	if (!path)
		path = getenv("VMMON_KVM_DEVICE");
	if (!path || !*path)
		path = VMM_KVM_DEFAULT_PATH;
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return host_err_set(err, e,
					    "cannot open %s: no such device; load the KVM module "
					    "(modprobe kvm_intel or kvm_amd) and enable "
					    "virtualization in the firmware",
					    path);
		if (e == EACCES || e == EPERM)
			return host_err_set(err, e,
					    "cannot open %s: permission denied; add yourself to "
					    "its group (sudo usermod -aG kvm $USER, then log in "
					    "again) or run as root",
					    path);
		return host_err_set(err, e, "cannot open %s: %s", path, strerror(e));
	}
	int ret = check_caps(kvm, path, err);
	if (ret) {
		close(kvm->fd);
		kvm->fd = -1;
	}
	return ret;
}

void vmm_kvm_close(struct vmm_kvm *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
