/* SPDX-License-Identifier: MIT */
/*
 * KVM's binary statistics of a vCPU (KVM_GET_STATS_FD): what KVM counted, read by name, for
 * --stats and the benchmarks (userspace exits per I/O, interrupts injected); and the --stats
 * report itself, which adds vmmon's own counters to KVM's.
 */
#ifndef VMMON_STATS_H
#define VMMON_STATS_H

#include <stdint.h>

struct vmm_kvm_stats {
	int fd;
	uint32_t num_desc, name_size;
	uint64_t desc_offset, data_offset;
	uint8_t *desc; /* num_desc descriptors, each with its name */
};

/* Opens the stats of a vCPU. Returns 0 or -errno (no KVM_CAP_BINARY_STATS_FD). */
int vmm_kvm_stats_open(struct vmm_kvm_stats *s, int vcpu_fd);
void vmm_kvm_stats_close(struct vmm_kvm_stats *s);
/* The current value of a single-value statistic; 0 if it does not exist. */
uint64_t vmm_kvm_stat(const struct vmm_kvm_stats *s, const char *name);

struct vmm_vm;

/* The --stats report on stderr, once the VM has stopped: exits per vCPU (vmmon's count and
 * KVM's), unhandled accesses, the devices' counters, resident memory. */
void vmm_stats_print(const struct vmm_vm *vm);

#endif
