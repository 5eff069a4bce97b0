/* SPDX-License-Identifier: MIT */
/*
 * Builds the Intel MP 1.4 tables (include/mptable.h) that tell a guest without ACPI how many
 * CPUs it has and how ISA interrupts reach the I/O APIC.
 */
#ifndef VMMON_MP_H
#define VMMON_MP_H

#include <stddef.h>
#include <stdint.h>

#define VMM_MP_MAX_CPUS 254 /* 8-bit xAPIC IDs, and 0xff is the broadcast ID */
#define VMM_MP_ISA_IRQS 16
#define VMM_MP_BUS_PCI	0
#define VMM_MP_BUS_ISA	1

struct vmm_mp_config {
	unsigned nr_cpus;
	uint32_t cpu_signature; /* CPUID(1).EAX */
	uint32_t cpu_features;	/* CPUID(1).EDX */
	uint8_t lapic_version;
	uint8_t ioapic_id;
	uint8_t ioapic_version;
	uint32_t ioapic_addr;
	uint32_t lapic_addr;
	/* PCI devices' INTA# lines: slot on bus 0 and the I/O APIC pin it reaches. */
	unsigned nr_pci_irqs;
	struct {
		uint8_t slot, pin;
	} pci_irq[32];
};

/* Size the tables take for cfg (floating pointer included). */
size_t vmm_mptable_size(const struct vmm_mp_config *cfg);
/* Writes the floating pointer and the configuration table right after it into buf, which the
 * guest will see at gpa. Returns bytes written, or -ENOSPC/-EINVAL. */
long vmm_mptable_build(uint8_t *buf, size_t cap, uint32_t gpa, const struct vmm_mp_config *cfg);

#endif
