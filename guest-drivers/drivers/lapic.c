// SPDX-License-Identifier: MIT
#include "drivers/lapic.h"
#include "guest_abi.h"
#include "kernel/kcpu.h"
#include "kernel/layout.h"
#include "lib/errno.h"
#include "lib/io.h"

/* Each poll of the delivery status is an MMIO read; the LAPIC normally clears it within a few.
 * This only bounds a broken LAPIC, so it is a count rather than a time. */
#define ICR_POLL_LIMIT 1000000

static uintptr_t lapic_base = GUEST_LAPIC_BASE;

void g_lapic_set_base(uintptr_t base)
{
	lapic_base = base;
	g_lapic_eoi = (volatile uint32_t *)(base + G_LAPIC_EOI);
}

uint32_t g_lapic_read(unsigned int reg)
{
	return g_mmio_read32(lapic_base + reg);
}

void g_lapic_write(unsigned int reg, uint32_t v)
{
	g_mmio_write32(lapic_base + reg, v);
}

void g_lapic_init(void)
{
	g_lapic_write(G_LAPIC_TPR, 0);
	g_lapic_write(G_LAPIC_LVT_TIMER, G_LAPIC_LVT_MASKED | G_VEC_TIMER);
	/* The legacy PIC is masked and we run in symmetric I/O mode: no ExtINT through LINT0.
	 * LINT1 (NMI on PCs) is left as the firmware set it. */
	g_lapic_write(G_LAPIC_LVT_LINT0, G_LAPIC_LVT_MASKED);
	g_lapic_write(G_LAPIC_LVT_ERROR, G_VEC_LAPIC_ERROR);
	g_lapic_write(G_LAPIC_SVR, G_LAPIC_SVR_ENABLE | G_VEC_SPURIOUS);
	/* ESR is latched by a write; two writes clear anything left from before. */
	g_lapic_write(G_LAPIC_ESR, 0);
	g_lapic_write(G_LAPIC_ESR, 0);
}

unsigned int g_lapic_id(void)
{
	return g_lapic_read(G_LAPIC_ID) >> 24;
}

void g_lapic_timer_oneshot(uint8_t vector, uint32_t count)
{
	g_lapic_write(G_LAPIC_TIMER_DIV, G_LAPIC_TIMER_DIV_16);
	g_lapic_write(G_LAPIC_LVT_TIMER, vector); /* one-shot, unmasked */
	g_lapic_write(G_LAPIC_TIMER_INIT, count); /* starts the count down */
}

void g_lapic_timer_stop(void)
{
	g_lapic_write(G_LAPIC_TIMER_INIT, 0);
	g_lapic_write(G_LAPIC_LVT_TIMER, G_LAPIC_LVT_MASKED | G_VEC_TIMER);
}

int g_lapic_send_ipi(unsigned int apic_id, uint32_t icr_low)
{
	/* The write to the low half sends the IPI, so the destination goes first. */
	g_lapic_write(G_LAPIC_ICR_HIGH, apic_id << G_LAPIC_ICR_DEST_SHIFT);
	g_lapic_write(G_LAPIC_ICR_LOW, icr_low);
	for (int i = 0; i < ICR_POLL_LIMIT; i++) {
		if (!(g_lapic_read(G_LAPIC_ICR_LOW) & G_LAPIC_ICR_BUSY))
			return 0;
		g_cpu_relax();
	}
	return -ETIMEDOUT;
}
