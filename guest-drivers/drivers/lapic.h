/* SPDX-License-Identifier: MIT */
/*
 * Local APIC in xAPIC (MMIO) mode, programmed from CPL3: every CPU reaches its own LAPIC at the
 * same address. Register offsets per Intel SDM vol. 3A, 11.4.1 (table 11-1).
 */
#ifndef G_DRIVERS_LAPIC_H
#define G_DRIVERS_LAPIC_H

#include <stdint.h>

#define G_LAPIC_ID	       0x020
#define G_LAPIC_VERSION	       0x030
#define G_LAPIC_TPR	       0x080
#define G_LAPIC_EOI	       0x0b0
#define G_LAPIC_SVR	       0x0f0
#define G_LAPIC_ESR	       0x280
#define G_LAPIC_ICR_LOW	       0x300
#define G_LAPIC_ICR_HIGH       0x310
#define G_LAPIC_LVT_TIMER      0x320
#define G_LAPIC_LVT_LINT0      0x350
#define G_LAPIC_LVT_LINT1      0x360
#define G_LAPIC_LVT_ERROR      0x370
#define G_LAPIC_TIMER_INIT     0x380
#define G_LAPIC_TIMER_CUR      0x390
#define G_LAPIC_TIMER_DIV      0x3e0

#define G_LAPIC_SVR_ENABLE     0x100
#define G_LAPIC_LVT_MASKED     0x10000
#define G_LAPIC_TIMER_DIV_16   0x3

#define G_LAPIC_ICR_FIXED      0x000
#define G_LAPIC_ICR_INIT       0x500
#define G_LAPIC_ICR_STARTUP    0x600
#define G_LAPIC_ICR_BUSY       0x1000 /* delivery status: send pending */
#define G_LAPIC_ICR_ASSERT     0x4000
#define G_LAPIC_ICR_LEVEL      0x8000
#define G_LAPIC_ICR_DEST_SHIFT 24

/* Moves the LAPIC (from the MP table); also repoints ring 0's EOI write. */
void g_lapic_set_base(uintptr_t base);

uint32_t g_lapic_read(unsigned int reg);
void g_lapic_write(unsigned int reg, uint32_t v);

/* Software-enables this CPU's LAPIC: spurious vector, TPR 0, timer and LINT0 masked, error
 * interrupt on G_VEC_LAPIC_ERROR. */
void g_lapic_init(void);

unsigned int g_lapic_id(void);

/* One-shot timer of count ticks of the bus clock divided by 16, raising vector. */
void g_lapic_timer_oneshot(uint8_t vector, uint32_t count);
void g_lapic_timer_stop(void);

/* Sends an IPI (ICR low bits: mode, level, trigger, vector) and waits until the LAPIC has sent
 * it. Returns 0 or -ETIMEDOUT. */
int g_lapic_send_ipi(unsigned int apic_id, uint32_t icr_low);

#endif
