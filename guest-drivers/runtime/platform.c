// SPDX-License-Identifier: MIT
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/tsc.h"
#include "guest_abi.h"
#include "kernel/kcpu.h"
#include "kernel/layout.h"
#include "lib/atomic.h"
#include "lib/console.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/spinlock.h"
#include "runtime/cpu.h"
#include "runtime/platform.h"
#include "runtime/syscall.h"

/* One-shot LAPIC timer that bounds each sleep of g_irq_wait: 62500 ticks of bus/16 is 1 ms on
 * KVM's and QEMU's 1 GHz APIC bus, longer on real hardware. */
#define WAKE_TICKS 62500

struct g_platform g_platform;

static struct g_spinlock vector_lock;
static unsigned int next_vector = G_VEC_DYN_BASE;

static void init_ioapics(void)
{
	for (unsigned int i = 0; i < g_platform.mp.nioapics; i++) {
		const struct g_mp_ioapic *a = &g_platform.mp.ioapic[i];
		struct g_ioapic *io = &g_platform.ioapic[g_platform.nioapics];

		if (!g_ioapic_init(io, a->addr, a->id))
			g_platform.nioapics++;
	}
}

int g_platform_init(void)
{
	struct g_mp_info *mp = &g_platform.mp;

	g_uart_init(&g_platform.uart, GUEST_COM1_PORT, GUEST_COM1_IRQ);
	g_console_set_uart(&g_platform.uart);
	g_pic_mask_all();
	g_platform.mp_err = g_mp_find(mp);
	if (!g_platform.mp_err) {
		if (mp->imcr)
			g_imcr_select_apic();
		if (mp->lapic_addr)
			g_lapic_set_base(mp->lapic_addr);
	}
	g_lapic_init();
	if (!g_platform.mp_err) {
		g_platform.mp_err = g_mp_set_boot_cpu(mp, g_lapic_id());
		init_ioapics();
	}
	return g_platform.mp_err;
}

void g_platform_init_ap(void)
{
	g_lapic_init();
}

static struct g_ioapic *isa_irq_ioapic(unsigned int irq, unsigned int *pin)
{
	const struct g_mp_isa_irq *e;

	if (g_platform.mp_err || irq >= G_MP_ISA_IRQS)
		return NULL;
	e = &g_platform.mp.isa[irq];
	if (!e->present)
		return NULL;
	for (unsigned int i = 0; i < g_platform.nioapics; i++) {
		if (e->ioapic_id == 0xff || e->ioapic_id == g_platform.ioapic[i].id) {
			*pin = e->pin;
			return &g_platform.ioapic[i];
		}
	}
	return NULL;
}

int g_platform_isa_irq_pin(unsigned int irq)
{
	unsigned int pin;

	return isa_irq_ioapic(irq, &pin) ? (int)pin : -ENODEV;
}

int g_platform_route_isa_irq(unsigned int irq, unsigned int *vector)
{
	unsigned int pin;
	struct g_ioapic *io = isa_irq_ioapic(irq, &pin);
	uint16_t flags;
	bool level, active_low;
	int rc;

	if (!io)
		return -ENODEV;
	if (G_VEC_IOAPIC_BASE + pin > G_VEC_IOAPIC_LAST)
		return -ERANGE;
	/* "Conforms to the bus" means edge-triggered, active high for ISA. */
	flags = g_platform.mp.isa[irq].flags;
	level = (flags & MP_IRQTRIG_LEVEL) == MP_IRQTRIG_LEVEL;
	active_low = (flags & MP_IRQPOL_ACTIVE_LOW) == MP_IRQPOL_ACTIVE_LOW;
	rc = g_ioapic_route(io, pin, G_VEC_IOAPIC_BASE + pin, g_lapic_id(), level, active_low);
	if (!rc)
		*vector = G_VEC_IOAPIC_BASE + pin;
	return rc;
}

int g_platform_mask_isa_irq(unsigned int irq)
{
	unsigned int pin;
	struct g_ioapic *io = isa_irq_ioapic(irq, &pin);

	return io ? g_ioapic_mask(io, pin) : -ENODEV;
}

static struct g_ioapic *ioapic_by_id(uint8_t id)
{
	for (unsigned int i = 0; i < g_platform.nioapics; i++) {
		if (id == 0xff || id == g_platform.ioapic[i].id)
			return &g_platform.ioapic[i];
	}
	return NULL;
}

/* Edge-triggered whatever the bus says: see platform.h. */
static int route_pin(struct g_ioapic *io, unsigned int pin, bool active_low, unsigned int *vector)
{
	int rc;

	if (G_VEC_IOAPIC_BASE + pin > G_VEC_IOAPIC_LAST)
		return -ERANGE;
	rc = g_ioapic_route(io, pin, G_VEC_IOAPIC_BASE + pin, g_lapic_id(), false, active_low);
	if (!rc)
		*vector = G_VEC_IOAPIC_BASE + pin;
	return rc;
}

/* The I/O APIC and pin of a GSI: inputs are numbered across the I/O APICs in table order. */
static struct g_ioapic *gsi_ioapic(unsigned int gsi, unsigned int *pin)
{
	if (g_platform.mp_err)
		return NULL;
	if (gsi < G_MP_ISA_IRQS && g_platform.mp.isa[gsi].present)
		return isa_irq_ioapic(gsi, pin);
	for (unsigned int i = 0; i < g_platform.nioapics; i++) {
		if (gsi < g_platform.ioapic[i].pins) {
			*pin = gsi;
			return &g_platform.ioapic[i];
		}
		gsi -= g_platform.ioapic[i].pins;
	}
	return NULL;
}

int g_platform_route_gsi(unsigned int gsi, unsigned int *vector)
{
	unsigned int pin;
	struct g_ioapic *io = gsi_ioapic(gsi, &pin);
	bool active_low = false;

	if (!io)
		return -ENODEV;
	if (gsi < G_MP_ISA_IRQS && g_platform.mp.isa[gsi].present)
		active_low = (g_platform.mp.isa[gsi].flags & MP_IRQPOL_ACTIVE_LOW) ==
			     MP_IRQPOL_ACTIVE_LOW;
	return route_pin(io, pin, active_low, vector);
}

int g_platform_mask_gsi(unsigned int gsi)
{
	unsigned int pin;
	struct g_ioapic *io = gsi_ioapic(gsi, &pin);

	return io ? g_ioapic_mask(io, pin) : -ENODEV;
}

int g_platform_route_pci_intx(unsigned int bus, unsigned int dev, unsigned int pin,
			      unsigned int line, unsigned int *vector)
{
	const struct g_mp_pci_irq *e;
	struct g_ioapic *io;
	uint16_t pol;

	if (g_platform.mp_err)
		return -ENODEV;
	e = g_mp_pci_irq(&g_platform.mp, bus, dev, pin);
	if (!e) {
		/* No MP entry: the firmware's interrupt line, if it set one. */
		if (line == 0 || line >= 0xff)
			return -ENODEV;
		return g_platform_route_gsi(line, vector);
	}
	io = ioapic_by_id(e->ioapic_id);
	if (!io)
		return -ENODEV;
	/* "Conforms to the bus" is active low for PCI (MP spec 4.3.4, table 4-10). */
	pol = e->flags & MP_IRQPOL_ACTIVE_LOW;
	return route_pin(io, e->ioapic_pin, pol == MP_IRQPOL_ACTIVE_LOW || pol == 0, vector);
}

int g_platform_alloc_vector(unsigned int *vector)
{
	int rc = -ENOSPC;

	g_spin_lock(&vector_lock);
	if (next_vector <= G_VEC_DYN_LAST) {
		*vector = next_vector++;
		rc = 0;
	}
	g_spin_unlock(&vector_lock);
	return rc;
}

uint64_t g_irq_seq(void)
{
	/* Acquire: reads that follow (the counters) are not moved before it. */
	return g_load_acquire(&g_this_cpu()->kcpu->irq_seq);
}

uint64_t g_irq_count(unsigned int vector)
{
	return G_READ_ONCE(g_this_cpu()->kcpu->irq_count[vector & 0xff]);
}

uint64_t g_irq_count_sum(const unsigned int *vectors, unsigned int n)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < n; i++)
		sum += g_irq_count(vectors[i]);
	return sum;
}

int g_irq_wait_any(const unsigned int *vectors, unsigned int n, uint64_t seen, uint64_t timeout_us)
{
	uint64_t deadline = g_tsc_deadline(timeout_us), t0;
	int rc = 0;

	if (!g_tsc_khz())
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if (vectors[i] == G_VEC_TIMER)
			return -EINVAL;
	}
	for (;;) {
		/* irq_seq is read before the counts: an interrupt after this read makes SYS_WAIT
		 * return at once instead of sleeping through it. */
		uint64_t seq = g_irq_seq();

		if (g_irq_count_sum(vectors, n) != seen)
			break;
		if (g_tsc_passed(deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
		g_lapic_timer_oneshot(G_VEC_TIMER, WAKE_TICKS);
		t0 = g_rdtsc();
		g_sys_wait(seq);
		g_this_cpu()->wait_tsc += g_rdtsc() - t0;
	}
	g_lapic_timer_stop();
	return rc;
}

uint64_t g_wait_tsc(void)
{
	return g_this_cpu()->wait_tsc;
}

int g_irq_wait(unsigned int vector, uint64_t seen, uint64_t timeout_us)
{
	return g_irq_wait_any(&vector, 1, seen, timeout_us);
}
