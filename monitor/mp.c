/* SPDX-License-Identifier: MIT */
#include "mp.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "mptable.h" /* the shared layouts, include/ */

#define APIC_BROADCAST 0xff

size_t vmm_mptable_size(const struct vmm_mp_config *cfg)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       cfg->nr_cpus * sizeof(struct mpc_cpu) + 2 * sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) +
	       (VMM_MP_ISA_IRQS + cfg->nr_pci_irqs + 2) * sizeof(struct mpc_intsrc);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Appends one entry at *pos and counts it. */
static void emit(uint8_t *buf, size_t *pos, unsigned *count, const void *entry, size_t len)
{
	memcpy(buf + *pos, entry, len);
	*pos += len;
	(*count)++;
}

static void emit_cpus(uint8_t *buf, size_t *pos, unsigned *n, const struct vmm_mp_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i, /* vmmon gives vCPU i the APIC ID i */
			.apicver = cfg->lapic_version,
			.cpuflag = MPC_CPU_ENABLED | (i == 0 ? MPC_CPU_BOOTPROCESSOR : 0),
			.cpufeature = cfg->cpu_signature,
			.featureflag = cfg->cpu_features,
		};
		emit(buf, pos, n, &cpu, sizeof(cpu));
	}
}

static void emit_interrupts(uint8_t *buf, size_t *pos, unsigned *n, const struct vmm_mp_config *cfg)
{
	/* ISA IRQ i arrives on I/O APIC pin i: KVM's default GSI routing. Edge, active high, as
	 * the ISA bus defines ("conforms to bus"). */
	for (unsigned irq = 0; irq < VMM_MP_ISA_IRQS; irq++) {
		struct mpc_intsrc src = {
			.type = MP_INTSRC,
			.irqtype = MP_INT,
			.irqflag = MP_IRQPOL_DEFAULT | MP_IRQTRIG_DEFAULT,
			.srcbus = VMM_MP_BUS_ISA,
			.srcbusirq = (uint8_t)irq,
			.dstapic = cfg->ioapic_id,
			.dstirq = (uint8_t)irq,
		};
		emit(buf, pos, n, &src, sizeof(src));
	}
	/* PCI INTA# of each slot: level-triggered. Active high, because KVM's I/O APIC takes an
	 * asserted line as 1 whatever the polarity, and a guest should program what is true. */
	for (unsigned i = 0; i < cfg->nr_pci_irqs; i++) {
		struct mpc_intsrc src = {
			.type = MP_INTSRC,
			.irqtype = MP_INT,
			.irqflag = MP_IRQPOL_ACTIVE_HIGH | MP_IRQTRIG_LEVEL,
			.srcbus = VMM_MP_BUS_PCI,
			.srcbusirq = (uint8_t)(cfg->pci_irq[i].slot << 2), /* pin A */
			.dstapic = cfg->ioapic_id,
			.dstirq = cfg->pci_irq[i].pin,
		};
		emit(buf, pos, n, &src, sizeof(src));
	}
	/* Virtual wire: the PIC on every CPU's LINT0, NMI on LINT1. */
	struct mpc_intsrc lint = {.type = MP_LINTSRC,
				  .irqtype = MP_EXTINT,
				  .srcbus = VMM_MP_BUS_ISA,
				  .dstapic = APIC_BROADCAST,
				  .dstirq = 0};
	emit(buf, pos, n, &lint, sizeof(lint));
	lint.irqtype = MP_NMI;
	lint.dstirq = 1;
	emit(buf, pos, n, &lint, sizeof(lint));
}

long vmm_mptable_build(uint8_t *buf, size_t cap, uint32_t gpa, const struct vmm_mp_config *cfg)
{
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > VMM_MP_MAX_CPUS || cfg->ioapic_id < cfg->nr_cpus)
		return -EINVAL;
	size_t size = vmm_mptable_size(cfg);
	if (size > cap)
		return -ENOSPC;
	memset(buf, 0, size);

	size_t pos = sizeof(struct mpf_intel), table = pos;
	struct mpc_table hdr = {.spec = MP_SPEC_REV, .lapic = cfg->lapic_addr};
	memcpy(hdr.signature, MPC_SIGNATURE, 4);
	memcpy(hdr.oem, "VMMON   ", 8);
	memcpy(hdr.productid, "VIRTUAL PC  ", 12);
	pos += sizeof(hdr);

	unsigned n = 0;
	emit_cpus(buf, &pos, &n, cfg);
	struct mpc_bus bus = {.type = MP_BUS, .busid = VMM_MP_BUS_PCI};
	memcpy(bus.bustype, "PCI   ", 6);
	emit(buf, &pos, &n, &bus, sizeof(bus));
	bus.busid = VMM_MP_BUS_ISA;
	memcpy(bus.bustype, "ISA   ", 6);
	emit(buf, &pos, &n, &bus, sizeof(bus));
	struct mpc_ioapic ioapic = {.type = MP_IOAPIC,
				    .apicid = cfg->ioapic_id,
				    .apicver = cfg->ioapic_version,
				    .flags = MPC_APIC_USABLE,
				    .apicaddr = cfg->ioapic_addr};
	emit(buf, &pos, &n, &ioapic, sizeof(ioapic));
	emit_interrupts(buf, &pos, &n, cfg);

	hdr.length = (uint16_t)(pos - table);
	hdr.entry_count = (uint16_t)n;
	memcpy(buf + table, &hdr, sizeof(hdr));
	buf[table + offsetof(struct mpc_table, checksum)] = checksum(buf + table, pos - table);

	struct mpf_intel mpf = {
		.physptr = gpa + (uint32_t)table, .length = 1, .specification = MP_SPEC_REV};
	memcpy(mpf.signature, MPF_SIGNATURE, 4);
	memcpy(buf, &mpf, sizeof(mpf));
	buf[offsetof(struct mpf_intel, checksum)] = checksum(buf, sizeof(mpf));
	return (long)pos;
}
