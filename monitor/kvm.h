/* SPDX-License-Identifier: MIT */
/* Opening /dev/kvm and checking that it offers everything vmmon relies on. */
#ifndef VMMON_KVM_H
#define VMMON_KVM_H

#include <stdbool.h>

#include "host/err.h"

#define VMM_KVM_DEFAULT_PATH "/dev/kvm"

struct vmm_kvm {
	int fd;
	int run_size; /* mmap size of a vCPU's kvm_run */
	unsigned max_vcpus;
	bool emulation_failure_bytes; /* KVM_CAP_EXIT_ON_EMULATION_FAILURE */
	bool has_stats_fd;	      /* KVM_CAP_BINARY_STATS_FD */
	bool ioeventfd_any_length;    /* KVM_CAP_IOEVENTFD_ANY_LENGTH */
	/* KVM_CAP_COALESCED_MMIO: the ring's page in a vCPU's mapping (0: no ring), and
	 * KVM_CAP_COALESCED_PIO: zones may hold ports (the optimisations of --net ...,opt= and
	 * --disk ...,opt= need both). */
	int coalesced_page;
	bool coalesced_pio;
};

/* Opens path (NULL: $VMMON_KVM_DEVICE or /dev/kvm), checks the API version and every required
 * capability, naming the first one missing. Returns 0 or -errno with err set. */
int vmm_kvm_open(struct vmm_kvm *kvm, const char *path, struct host_err *err);
void vmm_kvm_close(struct vmm_kvm *kvm);

#endif
