/* SPDX-License-Identifier: MIT */
#include "cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>

#define LEAF_FEATURES	 0x1
#define LEAF_CACHE	 0x4
#define LEAF_TOPOLOGY	 0xb
#define LEAF_TOPOLOGY_V2 0x1f
#define EDX_HTT		 (1u << 28)
#define LEAF_HV_BASE	 0x40000000
#define LEAF_HV_TIMING	 0x40000010
#define APIC_BUS_KHZ	 1000000 /* KVM's local APIC timer runs at 1 GHz */

/* Level types of leaves 0xB/0x1F (SDM vol. 2, CPUID). */
#define LEVEL_SMT  1
#define LEVEL_CORE 2

int vmm_cpuid_supported(int kvm_fd, struct vmm_cpuid *out)
{
	memset(out, 0, sizeof(*out));
	out->hdr.nent = VMM_CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, &out->hdr) < 0)
		return -errno;
	return 0;
}

struct kvm_cpuid_entry2 *vmm_cpuid_find(struct vmm_cpuid *c, unsigned function, unsigned index)
{
	for (unsigned i = 0; i < c->hdr.nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (e->function == function && (!indexed || e->index == index))
			return e;
	}
	return NULL;
}

/* Bits needed to number n items: ceil(log2(n)). */
static unsigned order(unsigned n)
{
	unsigned bits = 0;
	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* Leaves 0xB and 0x1F: level 0 SMT (1 thread per core), level 1 cores, then the end marker. */
static void set_extended_topology(struct kvm_cpuid_entry2 *e, unsigned cpu, unsigned nr_cpus)
{
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = LEVEL_SMT << 8;
		break;
	case 1:
		e->eax = order(nr_cpus);
		e->ebx = nr_cpus;
		e->ecx = 1 | LEVEL_CORE << 8;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index; /* level type 0: invalid, ends the enumeration */
	}
	e->edx = cpu; /* x2APIC ID */
}

void vmm_cpuid_set_topology(struct vmm_cpuid *c, unsigned cpu, unsigned nr_cpus)
{
	for (unsigned i = 0; i < c->hdr.nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case LEAF_FEATURES:
			/* Initial APIC ID in 31:24, addressable logical IDs in 23:16. */
			e->ebx = (e->ebx & 0x0000ffff) | (cpu & 0xff) << 24 |
				 (nr_cpus > 1 ? (nr_cpus & 0xff) << 16 : 0);
			e->edx = nr_cpus > 1 ? e->edx | EDX_HTT : e->edx & ~EDX_HTT;
			break;
		case LEAF_CACHE:
			/* Cores per package - 1 in 31:26; each cache private to its core. */
			if (e->eax & 0x1f)
				e->eax = (e->eax & 0x3fff) | ((nr_cpus - 1) & 0x3f) << 26;
			break;
		case LEAF_TOPOLOGY:
		case LEAF_TOPOLOGY_V2:
			set_extended_topology(e, cpu, nr_cpus);
			break;
		}
	}
}

void vmm_cpuid_set_timing(struct vmm_cpuid *c, uint32_t tsc_khz)
{
	struct kvm_cpuid_entry2 *base = vmm_cpuid_find(c, LEAF_HV_BASE, 0);
	if (!base || !tsc_khz)
		return;
	struct kvm_cpuid_entry2 *t = vmm_cpuid_find(c, LEAF_HV_TIMING, 0);
	if (!t) {
		if (c->hdr.nent == VMM_CPUID_MAX_ENTRIES)
			return;
		t = &c->entries[c->hdr.nent++];
		*t = (struct kvm_cpuid_entry2){.function = LEAF_HV_TIMING};
	}
	if (base->eax < LEAF_HV_TIMING)
		base->eax = LEAF_HV_TIMING;
	t->eax = tsc_khz;
	t->ebx = APIC_BUS_KHZ;
	t->ecx = t->edx = 0;
}
