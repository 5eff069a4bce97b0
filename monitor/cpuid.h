/* SPDX-License-Identifier: MIT */
/*
 * CPUID for each vCPU: what KVM supports, with the topology rewritten to match --cpus (one
 * package of N cores, one thread each) and each vCPU's APIC ID equal to its index.
 */
#ifndef VMMON_CPUID_H
#define VMMON_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#define VMM_CPUID_MAX_ENTRIES 256

struct vmm_cpuid {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 entries[VMM_CPUID_MAX_ENTRIES];
};

/* KVM_GET_SUPPORTED_CPUID. Returns 0 or -errno. */
int vmm_cpuid_supported(int kvm_fd, struct vmm_cpuid *out);
/* Rewrites the topology leaves (1, 4, 0xB, 0x1F) in place for vCPU `cpu` of `nr_cpus`. */
void vmm_cpuid_set_topology(struct vmm_cpuid *c, unsigned cpu, unsigned nr_cpus);
/* The hypervisor timing leaf 0x40000010 (VMware's convention, which QEMU also fills for KVM
 * guests with a known TSC rate): EAX the TSC's kHz, EBX the local APIC timer's. With it a guest
 * need not calibrate its TSC against the PIT, which a loaded host makes slow and wrong. Raises
 * the hypervisor base leaf's maximum to reach it; nothing without KVM's base leaf. */
void vmm_cpuid_set_timing(struct vmm_cpuid *c, uint32_t tsc_khz);
/* Looks up a leaf/subleaf, NULL if absent. */
struct kvm_cpuid_entry2 *vmm_cpuid_find(struct vmm_cpuid *c, unsigned function, unsigned index);

#endif
