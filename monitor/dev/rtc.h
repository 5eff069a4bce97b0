/* SPDX-License-Identifier: MIT */
/*
 * CMOS real-time clock (Motorola MC146818A) with its 128 bytes of CMOS memory: index port 0x70
 * (bit 7 masks NMI), data port 0x71. Reads the host's clock; a guest that sets the time keeps an
 * offset from it. No periodic, alarm or update interrupts: reg C reads 0.
 */
#ifndef VMMON_DEV_RTC_H
#define VMMON_DEV_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

#define RTC_B_SET	0x80 /* updates stopped while the guest sets the time */
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H	0x02
#define RTC_D_VRT	0x80 /* valid RAM and time */

struct rtc {
	pthread_mutex_t lock;
	time_t (*now)(void); /* host clock, replaceable by tests */
	int64_t offset;	     /* guest time - host time, seconds */
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
};

/* ram_below_4g / ram_above_4g fill the PC BIOS memory-size bytes (0x15-0x18, 0x30-0x31,
 * 0x34-0x35, 0x5b-0x5d) that firmware and some loaders read. */
void rtc_init(struct rtc *rtc, time_t (*now)(void), uint64_t ram_below_4g, uint64_t ram_above_4g);
void rtc_destroy(struct rtc *rtc);
uint8_t rtc_read(struct rtc *rtc, unsigned port);
void rtc_write(struct rtc *rtc, unsigned port, uint8_t val);
int rtc_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
