/* SPDX-License-Identifier: MIT */
/*
 * CMOS real-time clock (Motorola MC146818A) with its 128 bytes of CMOS memory: index port 0x70
 * (bit 7 masks NMI), data port 0x71. Reads the host's clock; a guest that sets the time keeps an
 * offset from it. The periodic interrupt (IRQ 8) is there, at the rate register A selects with
 * the oscillator on, while register B's PIE is set: a host timer (rtc_set_timer) calls
 * rtc_periodic_tick, which sets PF and IRQF in register C and raises the line; reading C clears
 * them and lowers it, so ticks the guest has not acknowledged merge, as on the chip. PF is set
 * only while PIE is (nobody polls it with the interrupt off); no alarm or update interrupts.
 */
#ifndef VMMON_DEV_RTC_H
#define VMMON_DEV_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../irq.h"

#define RTC_NR_PORTS  2
#define RTC_CMOS_SIZE 128

/* Register indexes (MC146818A datasheet, plus the PC's century byte). */
enum {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

#define RTC_A_RS_MASK	0x0f /* rate select */
#define RTC_A_DV_MASK	0x70 /* divider: 010 runs the 32.768 kHz time base */
#define RTC_A_DV_32KHZ	0x20
#define RTC_B_SET	0x80 /* updates stopped while the guest sets the time */
#define RTC_B_PIE	0x40 /* periodic interrupt enable */
#define RTC_B_AIE	0x20
#define RTC_B_UIE	0x10
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H	0x02
#define RTC_C_IRQF	0x80 /* an enabled flag is set: the line is asserted */
#define RTC_C_PF	0x40 /* periodic */
#define RTC_C_AF	0x20
#define RTC_C_UF	0x10
#define RTC_D_VRT	0x80 /* valid RAM and time */

/* PC BIOS bytes of the CMOS memory besides the clock (IBM AT layout, QEMU's extensions). */
#define RTC_CMOS_BOOT_ORDER_3 0x38 /* bits 7:4 third boot device, bit 0 no floppy check */
#define RTC_CMOS_BOOT_ORDER   0x3d /* bits 3:0 first, 7:4 second: 1 floppy, 2 disk, 3 CD */
#define RTC_CMOS_SMP_COUNT    0x5f /* CPUs - 1 */
#define RTC_BOOT_DISK	      0x2

struct rtc {
	pthread_mutex_t lock;
	time_t (*now)(void); /* host clock, replaceable by tests */
	int64_t offset;	     /* guest time - host time, seconds */
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	/* The periodic interrupt: IRQ 8, and the host timer that paces it. */
	struct vmm_irq irq;
	bool irq_level;
	void (*arm)(void *ctx, uint64_t period_ns); /* 0 stops the timer */
	void *arm_ctx;
	uint64_t period_ns; /* what the timer runs at now, 0 if stopped */
	uint64_t ticks;	    /* periodic flags raised, for --stats */
};

/* ram_below_4g / ram_above_4g fill the PC BIOS memory-size bytes (0x15-0x18, 0x30-0x31,
 * 0x34-0x35, 0x5b-0x5d) that firmware and some loaders read. */
void rtc_init(struct rtc *rtc, time_t (*now)(void), uint64_t ram_below_4g, uint64_t ram_above_4g);
void rtc_destroy(struct rtc *rtc);
/* Wires the periodic interrupt: its line, and the host timer arm() starts at a period in ns
 * (called with the RTC's lock held, from whichever thread wrote register A or B). */
void rtc_set_timer(struct rtc *rtc, struct vmm_irq irq, void (*arm)(void *ctx, uint64_t period_ns),
		   void *ctx);
/* One period of the host timer passed (any thread). */
void rtc_periodic_tick(struct rtc *rtc);
/* The period registers A and B select now, in ns; 0 when no periodic interrupt is enabled. */
uint64_t rtc_period_ns(const struct rtc *rtc);
/* A CMOS byte set by the host (boot order, CPU count) before the guest runs. */
void rtc_cmos_set(struct rtc *rtc, unsigned index, uint8_t val);
uint8_t rtc_read(struct rtc *rtc, unsigned port);
void rtc_write(struct rtc *rtc, unsigned port, uint8_t val);
int rtc_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
