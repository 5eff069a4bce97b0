// SPDX-License-Identifier: MIT
#include "drivers/mp.h"
#include "lib/errno.h"
#include "lib/phys.h"
#include "lib/string.h"

#define BIOS_AREA_START	 0xf0000
#define BIOS_AREA_SIZE	 0x10000
#define MPF_ALIGN	 16
#define LOW_MEM_MIN	 0x80000 /* plausible bounds for an EBDA or the top of base memory */
#define LOW_MEM_MAX	 0xa0000
#define BDA_EBDA_SEGMENT 0x40e /* u16 */
#define BDA_BASE_KIB	 0x413 /* u16 */

/* What walk() learns about each bus ID from the bus entries. */
enum bus_kind { BUS_OTHER, BUS_ISA, BUS_PCI };

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum;
}

int g_mp_check_floating(const struct mpf_intel *mpf)
{
	if (memcmp(mpf->signature, MPF_SIGNATURE, 4) || mpf->length != 1)
		return -EINVAL;
	if (checksum(mpf, sizeof(*mpf)))
		return -EBADMSG;
	if (mpf->specification != 1 && mpf->specification != MP_SPEC_REV)
		return -ENOTSUP;
	if (mpf->feature1 || !mpf->physptr)
		return -ENOTSUP; /* a "default configuration" without a table */
	return 0;
}

static size_t entry_size(uint8_t type)
{
	switch (type) {
	case MP_PROCESSOR:
		return sizeof(struct mpc_cpu);
	case MP_BUS:
		return sizeof(struct mpc_bus);
	case MP_IOAPIC:
		return sizeof(struct mpc_ioapic);
	case MP_INTSRC:
	case MP_LINTSRC:
		return sizeof(struct mpc_intsrc);
	default:
		return 0;
	}
}

static void add_cpu(struct g_mp_info *mp, const struct mpc_cpu *c)
{
	if (!(c->cpuflag & MPC_CPU_ENABLED))
		return;
	if (mp->ncpus < G_MAX_CPUS) {
		mp->cpu[mp->ncpus].apic_id = c->apicid;
		mp->cpu[mp->ncpus].bsp = c->cpuflag & MPC_CPU_BOOTPROCESSOR;
	}
	mp->ncpus++;
}

static void add_ioapic(struct g_mp_info *mp, const struct mpc_ioapic *a)
{
	if (!(a->flags & MPC_APIC_USABLE) || mp->nioapics == G_MP_MAX_IOAPICS)
		return;
	mp->ioapic[mp->nioapics].id = a->apicid;
	mp->ioapic[mp->nioapics].addr = a->apicaddr;
	mp->nioapics++;
}

static void add_isa_irq(struct g_mp_info *mp, const struct mpc_intsrc *s)
{
	if (s->srcbusirq >= G_MP_ISA_IRQS)
		return;
	mp->isa[s->srcbusirq] = (struct g_mp_isa_irq){
		.present = true,
		.ioapic_id = s->dstapic,
		.pin = s->dstirq,
		.flags = s->irqflag,
	};
}

/* A PCI source IRQ is (device << 2) | INTx pin (MP spec 4.3.4, table 4-9). */
static void add_pci_irq(struct g_mp_info *mp, const struct mpc_intsrc *s)
{
	if (mp->npci == G_MP_PCI_IRQS)
		return;
	mp->pci[mp->npci++] = (struct g_mp_pci_irq){
		.bus = s->srcbus,
		.dev = (s->srcbusirq >> 2) & 0x1f,
		.pin = s->srcbusirq & 3,
		.ioapic_id = s->dstapic,
		.ioapic_pin = s->dstirq,
		.flags = s->irqflag,
	};
}

static void add_intsrc(struct g_mp_info *mp, const struct mpc_intsrc *s, const uint8_t *bus_kind)
{
	if (s->irqtype != MP_INT)
		return;
	if (bus_kind[s->srcbus] == BUS_ISA)
		add_isa_irq(mp, s);
	else if (bus_kind[s->srcbus] == BUS_PCI)
		add_pci_irq(mp, s);
}

static uint8_t bus_kind_of(const struct mpc_bus *b)
{
	if (!memcmp(b->bustype, "ISA   ", 6))
		return BUS_ISA;
	if (!memcmp(b->bustype, "PCI   ", 6))
		return BUS_PCI;
	return BUS_OTHER;
}

/* Walks the entries; in the interrupt-source pass, interrupt sources are recorded, otherwise the
 * processors, buses and I/O APICs are. Entries are sorted by type in practice, but the spec's
 * sort is not relied on: interrupt sources need every bus first, hence two passes. */
static int walk(const struct mpc_table *t, struct g_mp_info *mp, uint8_t *bus_kind,
		bool intsrc_pass)
{
	const uint8_t *p = (const uint8_t *)(t + 1);
	const uint8_t *end = (const uint8_t *)t + t->length;

	for (unsigned int i = 0; i < t->entry_count; i++) {
		size_t size;

		if (p >= end)
			return -EBADMSG;
		size = entry_size(p[0]);
		if (!size)
			return -EBADMSG;
		if ((size_t)(end - p) < size)
			return -EBADMSG;
		if (intsrc_pass && p[0] == MP_INTSRC)
			add_intsrc(mp, (const struct mpc_intsrc *)p, bus_kind);
		if (!intsrc_pass && p[0] == MP_PROCESSOR)
			add_cpu(mp, (const struct mpc_cpu *)p);
		if (!intsrc_pass && p[0] == MP_BUS)
			bus_kind[((const struct mpc_bus *)p)->busid] =
				bus_kind_of((const struct mpc_bus *)p);
		if (!intsrc_pass && p[0] == MP_IOAPIC)
			add_ioapic(mp, (const struct mpc_ioapic *)p);
		p += size;
	}
	return 0;
}

int g_mp_parse_table(const void *table, size_t len, struct g_mp_info *mp)
{
	const struct mpc_table *t = table;
	uint8_t bus_kind[256] = {BUS_OTHER};
	int rc;

	memset(mp, 0, sizeof(*mp));
	if (len < sizeof(*t) || memcmp(t->signature, MPC_SIGNATURE, 4))
		return -EINVAL;
	if (t->length < sizeof(*t) || t->length > len)
		return -EBADMSG;
	if (checksum(t, t->length))
		return -EBADMSG;
	if (t->spec != 1 && t->spec != MP_SPEC_REV)
		return -ENOTSUP;
	mp->lapic_addr = t->lapic;
	rc = walk(t, mp, bus_kind, false);
	if (!rc)
		rc = walk(t, mp, bus_kind, true);
	if (!rc && !mp->ncpus)
		rc = -ENODEV;
	return rc;
}

static const struct mpf_intel *scan(uint64_t start, size_t len)
{
	const uint8_t *base = g_phys_ptr(start, len);

	for (size_t off = 0; base && off + sizeof(struct mpf_intel) <= len; off += MPF_ALIGN) {
		const struct mpf_intel *mpf = (const struct mpf_intel *)(base + off);

		if (!g_mp_check_floating(mpf))
			return mpf;
	}
	return NULL;
}

int g_mp_find(struct g_mp_info *mp)
{
	const uint16_t *bda_ebda = g_phys_ptr(BDA_EBDA_SEGMENT, 2);
	const uint16_t *bda_kib = g_phys_ptr(BDA_BASE_KIB, 2);
	uint64_t ebda = (uint64_t)*bda_ebda << 4;
	uint64_t base_top = (uint64_t)*bda_kib << 10;
	const struct mpf_intel *mpf = NULL;
	const struct mpc_table *t;
	int rc;

	/* The BDA words are only trusted when they point where an EBDA or the end of base memory
	 * can be; under vmmon there is no BIOS and they are 0. */
	if (ebda >= LOW_MEM_MIN && ebda + 1024 <= LOW_MEM_MAX)
		mpf = scan(ebda, 1024);
	if (!mpf && base_top >= LOW_MEM_MIN + 1024 && base_top <= LOW_MEM_MAX)
		mpf = scan(base_top - 1024, 1024);
	if (!mpf)
		mpf = scan(BIOS_AREA_START, BIOS_AREA_SIZE);
	if (!mpf)
		return -ENOENT;
	t = g_phys_ptr(mpf->physptr, sizeof(*t));
	if (!t || memcmp(t->signature, MPC_SIGNATURE, 4))
		return -EBADMSG;
	t = g_phys_ptr(mpf->physptr, t->length);
	if (!t)
		return -EBADMSG;
	rc = g_mp_parse_table(t, t->length, mp);
	if (!rc)
		mp->imcr = mpf->feature2 & 0x80;
	return rc;
}

const struct g_mp_pci_irq *g_mp_pci_irq(const struct g_mp_info *mp, unsigned int bus,
					unsigned int dev, unsigned int pin)
{
	for (unsigned int i = 0; i < mp->npci; i++) {
		const struct g_mp_pci_irq *e = &mp->pci[i];

		if (e->bus == bus && e->dev == dev && e->pin == pin)
			return e;
	}
	return NULL;
}

int g_mp_set_boot_cpu(struct g_mp_info *mp, unsigned int apic_id)
{
	unsigned int n = mp->ncpus < G_MAX_CPUS ? mp->ncpus : G_MAX_CPUS;

	for (unsigned int i = 0; i < n; i++) {
		if (mp->cpu[i].apic_id == apic_id) {
			struct g_mp_cpu boot = mp->cpu[i];

			memmove(&mp->cpu[1], &mp->cpu[0], i * sizeof(mp->cpu[0]));
			mp->cpu[0] = boot;
			return 0;
		}
	}
	return -ENOENT;
}
