/* SPDX-License-Identifier: MIT */
#include "rtc.h"

#include <errno.h>
#include <string.h>

#define INDEX_MASK    0x7f /* bit 7 of the index port is the NMI mask, not part of the index */
#define REG_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz rate */

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode(const struct rtc *rtc, unsigned v)
{
	return (rtc->cmos[RTC_REG_B] & RTC_B_DM_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(const struct rtc *rtc, uint8_t v)
{
	return (rtc->cmos[RTC_REG_B] & RTC_B_DM_BINARY) ? v : from_bcd(v);
}

static uint8_t encode_hour(const struct rtc *rtc, unsigned hour)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return encode(rtc, hour);
	unsigned h12 = hour % 12 ? hour % 12 : 12;
	return encode(rtc, h12) | (hour >= 12 ? 0x80 : 0); /* bit 7: PM */
}

static unsigned decode_hour(const struct rtc *rtc, uint8_t v)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return decode(rtc, v);
	unsigned h = decode(rtc, v & 0x7f) % 12;
	return (v & 0x80) ? h + 12 : h;
}

/* Fills the time registers from host time + offset. */
static void latch_time(struct rtc *rtc)
{
	time_t t = rtc->now() + rtc->offset;
	struct tm tm;
	gmtime_r(&t, &tm);
	rtc->cmos[RTC_SECONDS] = encode(rtc, (unsigned)tm.tm_sec);
	rtc->cmos[RTC_MINUTES] = encode(rtc, (unsigned)tm.tm_min);
	rtc->cmos[RTC_HOURS] = encode_hour(rtc, (unsigned)tm.tm_hour);
	rtc->cmos[RTC_DAY_OF_WEEK] = encode(rtc, (unsigned)tm.tm_wday + 1);
	rtc->cmos[RTC_DAY_OF_MONTH] = encode(rtc, (unsigned)tm.tm_mday);
	rtc->cmos[RTC_MONTH] = encode(rtc, (unsigned)tm.tm_mon + 1);
	rtc->cmos[RTC_YEAR] = encode(rtc, (unsigned)(tm.tm_year % 100));
	rtc->cmos[RTC_CENTURY] = encode(rtc, (unsigned)(1900 + tm.tm_year) / 100);
}

/* The guest finished setting the clock (SET cleared): the registers become the new offset. */
static void commit_time(struct rtc *rtc)
{
	struct tm tm = {
		.tm_sec = (int)decode(rtc, rtc->cmos[RTC_SECONDS]),
		.tm_min = (int)decode(rtc, rtc->cmos[RTC_MINUTES]),
		.tm_hour = (int)decode_hour(rtc, rtc->cmos[RTC_HOURS]),
		.tm_mday = (int)decode(rtc, rtc->cmos[RTC_DAY_OF_MONTH]),
		.tm_mon = (int)decode(rtc, rtc->cmos[RTC_MONTH]) - 1,
		.tm_year = (int)(decode(rtc, rtc->cmos[RTC_CENTURY]) * 100 +
				 decode(rtc, rtc->cmos[RTC_YEAR])) -
			   1900,
	};
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		rtc->offset = (int64_t)t - (int64_t)rtc->now();
}

static time_t host_now(void)
{
	return time(NULL);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void rtc_init(struct rtc *rtc, time_t (*now)(void), uint64_t ram_below_4g, uint64_t ram_above_4g)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = now ? now : host_now;
	rtc->cmos[RTC_REG_A] = REG_A_DEFAULT;
	rtc->cmos[RTC_REG_B] = RTC_B_24H;
	rtc->cmos[RTC_REG_D] = RTC_D_VRT;
	/* Base memory 640 KiB; extended memory 1-64 MiB in KiB; above 16 MiB and above 4 GiB in
	 * 64 KiB units: the layout of the IBM AT CMOS that SeaBIOS also uses. */
	put16(&rtc->cmos[0x15], 640);
	uint64_t ext_kib = ram_below_4g > (1 << 20) ? (ram_below_4g - (1 << 20)) >> 10 : 0;
	if (ext_kib > 0xfc00)
		ext_kib = 0xfc00;
	put16(&rtc->cmos[0x17], (unsigned)ext_kib);
	put16(&rtc->cmos[0x30], (unsigned)ext_kib);
	uint64_t above16 = ram_below_4g > (16 << 20) ? (ram_below_4g - (16 << 20)) >> 16 : 0;
	if (above16 > 0xffff)
		above16 = 0xffff;
	put16(&rtc->cmos[0x34], (unsigned)above16);
	uint64_t high = ram_above_4g >> 16;
	rtc->cmos[0x5b] = (uint8_t)high;
	rtc->cmos[0x5c] = (uint8_t)(high >> 8);
	rtc->cmos[0x5d] = (uint8_t)(high >> 16);
}

void rtc_destroy(struct rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

void rtc_cmos_set(struct rtc *rtc, unsigned index, uint8_t val)
{
	pthread_mutex_lock(&rtc->lock);
	if (index < RTC_CMOS_SIZE)
		rtc->cmos[index] = val;
	pthread_mutex_unlock(&rtc->lock);
}

uint64_t rtc_period_ns(const struct rtc *rtc)
{
	unsigned rs = rtc->cmos[RTC_REG_A] & RTC_A_RS_MASK;
	if (!(rtc->cmos[RTC_REG_B] & RTC_B_PIE) || !rs ||
	    (rtc->cmos[RTC_REG_A] & RTC_A_DV_MASK) != RTC_A_DV_32KHZ)
		return 0;
	if (rs < 3)
		rs += 7; /* rates 1 and 2 repeat 8 and 9 (datasheet table 3) */
	/* 2^(rs - 1) cycles of the 32.768 kHz time base: 122.070 us at rate 3, 500 ms at 15. */
	return (1000000000ull << (rs - 1)) / 32768;
}

/* The line follows IRQF; the host timer follows the rate and PIE (lock held). */
static void update_irq(struct rtc *rtc)
{
	uint8_t c = rtc->cmos[RTC_REG_C] & (RTC_C_PF | RTC_C_AF | RTC_C_UF);
	uint8_t b = rtc->cmos[RTC_REG_B];
	bool irqf = ((c & RTC_C_PF) && (b & RTC_B_PIE)) || ((c & RTC_C_AF) && (b & RTC_B_AIE)) ||
		    ((c & RTC_C_UF) && (b & RTC_B_UIE));
	rtc->cmos[RTC_REG_C] = (uint8_t)(c | (irqf ? RTC_C_IRQF : 0));
	if (irqf != rtc->irq_level) {
		rtc->irq_level = irqf;
		vmm_irq_set(&rtc->irq, irqf);
	}
	uint64_t period = rtc_period_ns(rtc);
	if (period != rtc->period_ns && rtc->arm) {
		rtc->period_ns = period;
		rtc->arm(rtc->arm_ctx, period);
	}
}

void rtc_set_timer(struct rtc *rtc, struct vmm_irq irq, void (*arm)(void *, uint64_t), void *ctx)
{
	pthread_mutex_lock(&rtc->lock);
	rtc->irq = irq;
	rtc->arm = arm;
	rtc->arm_ctx = ctx;
	update_irq(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

void rtc_periodic_tick(struct rtc *rtc)
{
	pthread_mutex_lock(&rtc->lock);
	/* A tick that raced with the guest turning PIE off is dropped. */
	if (rtc_period_ns(rtc)) {
		rtc->cmos[RTC_REG_C] |= RTC_C_PF;
		rtc->ticks++;
		update_irq(rtc);
	}
	pthread_mutex_unlock(&rtc->lock);
}

static bool is_time_reg(unsigned idx)
{
	return idx <= RTC_YEAR || idx == RTC_CENTURY;
}

uint8_t rtc_read(struct rtc *rtc, unsigned port)
{
	pthread_mutex_lock(&rtc->lock);
	uint8_t val;
	if (port == 0) {
		val = 0xff; /* the index port is write-only */
	} else {
		unsigned idx = rtc->index;
		if (is_time_reg(idx) && !(rtc->cmos[RTC_REG_B] & RTC_B_SET))
			latch_time(rtc);
		val = rtc->cmos[idx];
		if (idx == RTC_REG_A)
			val &= 0x7f; /* UIP: never in an update, the registers are latched at once
				      */
		if (idx == RTC_REG_C) {
			rtc->cmos[RTC_REG_C] = 0; /* flags clear on read */
			update_irq(rtc);
		}
	}
	pthread_mutex_unlock(&rtc->lock);
	return val;
}

void rtc_write(struct rtc *rtc, unsigned port, uint8_t val)
{
	pthread_mutex_lock(&rtc->lock);
	if (port == 0) {
		rtc->index = val & INDEX_MASK;
		goto out;
	}
	unsigned idx = rtc->index;
	switch (idx) {
	case RTC_REG_A:
		rtc->cmos[idx] = val & 0x7f; /* UIP is read-only */
		update_irq(rtc);
		break;
	case RTC_REG_B:
		/* Entering SET freezes the registers at the current time; leaving it commits. */
		if ((val & RTC_B_SET) && !(rtc->cmos[RTC_REG_B] & RTC_B_SET))
			latch_time(rtc);
		if (!(val & RTC_B_SET) && (rtc->cmos[RTC_REG_B] & RTC_B_SET)) {
			rtc->cmos[RTC_REG_B] = val | RTC_B_SET; /* decode in the new format */
			commit_time(rtc);
		}
		rtc->cmos[RTC_REG_B] = val;
		update_irq(rtc);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		if (is_time_reg(idx) && !(rtc->cmos[RTC_REG_B] & RTC_B_SET)) {
			/* A single register written outside SET mode: apply it as a new time. */
			latch_time(rtc);
			rtc->cmos[idx] = val;
			commit_time(rtc);
		} else {
			rtc->cmos[idx] = val;
		}
	}
out:
	pthread_mutex_unlock(&rtc->lock);
}

int rtc_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	if (len != 1 || off >= RTC_NR_PORTS)
		return -EINVAL;
	if (is_write)
		rtc_write(dev, (unsigned)off, data[0]);
	else
		data[0] = rtc_read(dev, (unsigned)off);
	return 0;
}
