/* SPDX-License-Identifier: MIT */
/*
 * MC146818A CMOS RTC against its datasheet (time and calendar registers in BCD or binary, 12 or
 * 24 hour, registers A-D, SET) and the PC conventions on top (century byte 0x32, NMI mask in the
 * index port, IBM AT memory-size bytes), with the host clock replaced by a fake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dev/rtc.h"

/* Thursday 2024-02-29 13:45:07 UTC. */
#define T_LEAP_DAY 1709214307
/* Sunday 2023-12-31 00:05:09 UTC. */
#define T_MIDNIGHT 1703981109
/* Sunday 2024-07-14 12:30:00 UTC. */
#define T_NOON 1720960200
/* Friday 1999-12-31 23:59:58 UTC. */
#define T_Y2K_EVE 946684798

#define KIB	  1024ull
#define MIB	  (1024 * KIB)
#define GIB	  (1024 * MIB)

/* The fake host clock. rtc_init takes a bare time_t (*)(void), so the value it returns cannot
 * travel in a context pointer: this is the one piece of file-scope state. */
static time_t fake_time;

static time_t fake_now(void)
{
	return fake_time;
}

static void setup(struct rtc *rtc, time_t t)
{
	fake_time = t;
	rtc_init(rtc, fake_now, 256 * MIB, 0);
}

static uint8_t reg_read(struct rtc *rtc, uint8_t idx)
{
	rtc_write(rtc, 0, idx);
	return rtc_read(rtc, 1);
}

static void reg_write(struct rtc *rtc, uint8_t idx, uint8_t val)
{
	rtc_write(rtc, 0, idx);
	rtc_write(rtc, 1, val);
}

struct rtc_time {
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

static void read_time(struct rtc *rtc, struct rtc_time *t)
{
	t->sec = reg_read(rtc, RTC_SECONDS);
	t->min = reg_read(rtc, RTC_MINUTES);
	t->hour = reg_read(rtc, RTC_HOURS);
	t->wday = reg_read(rtc, RTC_DAY_OF_WEEK);
	t->mday = reg_read(rtc, RTC_DAY_OF_MONTH);
	t->mon = reg_read(rtc, RTC_MONTH);
	t->year = reg_read(rtc, RTC_YEAR);
	t->century = reg_read(rtc, RTC_CENTURY);
}

static void check_time(struct rtc *rtc, const struct rtc_time *exp)
{
	struct rtc_time t;
	read_time(rtc, &t);
	assert_int_equal(t.sec, exp->sec);
	assert_int_equal(t.min, exp->min);
	assert_int_equal(t.hour, exp->hour);
	assert_int_equal(t.wday, exp->wday);
	assert_int_equal(t.mday, exp->mday);
	assert_int_equal(t.mon, exp->mon);
	assert_int_equal(t.year, exp->year);
	assert_int_equal(t.century, exp->century);
}

static void test_time_in_bcd_24h(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	assert_int_equal(reg_read(&rtc, RTC_REG_B), RTC_B_24H); /* BCD is the default */
	const struct rtc_time exp = {0x07, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20};
	check_time(&rtc, &exp);
	fake_time = T_Y2K_EVE;
	const struct rtc_time y2k = {0x58, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19};
	check_time(&rtc, &y2k);
	fake_time = T_Y2K_EVE + 2; /* the clock follows the host: into the next century */
	const struct rtc_time next = {0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20};
	check_time(&rtc, &next);
	rtc_destroy(&rtc);
}

static void test_time_in_binary(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_DM_BINARY);
	assert_int_equal(reg_read(&rtc, RTC_REG_B), RTC_B_24H | RTC_B_DM_BINARY);
	const struct rtc_time exp = {7, 45, 13, 5, 29, 2, 24, 20};
	check_time(&rtc, &exp);
	rtc_destroy(&rtc);
}

/* 12-hour mode: 1-12, with bit 7 set for PM; midnight is 12 AM and noon 12 PM. */
static void test_time_in_12h(void **state)
{
	(void)state;
	static const struct {
		time_t t;
		uint8_t b, hour;
	} cases[] = {
		{T_LEAP_DAY, 0, 0x81},
		{T_MIDNIGHT, 0, 0x12},
		{T_NOON, 0, 0x92},
		{T_Y2K_EVE, 0, 0x91},
		{T_LEAP_DAY, RTC_B_DM_BINARY, 0x81},
		{T_MIDNIGHT, RTC_B_DM_BINARY, 0x0c},
		{T_NOON, RTC_B_DM_BINARY, 0x8c},
		{T_Y2K_EVE, RTC_B_DM_BINARY, 0x8b},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rtc rtc;
		setup(&rtc, cases[i].t);
		reg_write(&rtc, RTC_REG_B, cases[i].b);
		assert_int_equal(reg_read(&rtc, RTC_HOURS), cases[i].hour);
		rtc_destroy(&rtc);
	}
}

static void test_status_registers(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	/* D: valid RAM and time, read-only. */
	assert_int_equal(reg_read(&rtc, RTC_REG_D), RTC_D_VRT);
	reg_write(&rtc, RTC_REG_D, 0);
	assert_int_equal(reg_read(&rtc, RTC_REG_D), RTC_D_VRT);
	/* A: UIP never reads 1, not even after writing it. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(reg_read(&rtc, RTC_REG_A) & 0x80, 0);
	reg_write(&rtc, RTC_REG_A, 0xa6);
	assert_int_equal(reg_read(&rtc, RTC_REG_A), 0x26);
	/* C: read-only flags that clear when read. */
	reg_write(&rtc, RTC_REG_C, 0xf0);
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0);
	rtc.cmos[RTC_REG_C] = 0xf0; /* as if an interrupt had been flagged */
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0xf0);
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0);
	rtc_destroy(&rtc);
}

static void test_index_port_masks_nmi_bit(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	rtc_write(&rtc, 0, 0x80 | RTC_REG_D);
	assert_int_equal(rtc_read(&rtc, 1), RTC_D_VRT);
	rtc_write(&rtc, 0, 0x80 | RTC_MINUTES);
	assert_int_equal(rtc_read(&rtc, 1), 0x45);
	rtc_write(&rtc, 0, 0x80 | 0x40);
	rtc_write(&rtc, 1, 0x5a);
	assert_int_equal(reg_read(&rtc, 0x40), 0x5a);
	rtc_destroy(&rtc);
}

static void test_set_time_then_follow_clock(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	reg_write(&rtc, RTC_REG_B, RTC_B_SET | RTC_B_24H);
	/* Entering SET freezes the registers. */
	fake_time += 5;
	assert_int_equal(reg_read(&rtc, RTC_SECONDS), 0x07);
	/* 2025-06-01 09:15:30, a Sunday. */
	reg_write(&rtc, RTC_SECONDS, 0x30);
	reg_write(&rtc, RTC_MINUTES, 0x15);
	reg_write(&rtc, RTC_HOURS, 0x09);
	reg_write(&rtc, RTC_DAY_OF_MONTH, 0x01);
	reg_write(&rtc, RTC_MONTH, 0x06);
	reg_write(&rtc, RTC_YEAR, 0x25);
	fake_time += 100; /* still in SET: what was written stays */
	assert_int_equal(reg_read(&rtc, RTC_MINUTES), 0x15);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H);
	const struct rtc_time set = {0x30, 0x15, 0x09, 1, 0x01, 0x06, 0x25, 0x20};
	check_time(&rtc, &set);
	fake_time += 100;
	const struct rtc_time later = {0x10, 0x17, 0x09, 1, 0x01, 0x06, 0x25, 0x20};
	check_time(&rtc, &later);
	fake_time += 24 * 3600;
	const struct rtc_time next_day = {0x10, 0x17, 0x09, 2, 0x02, 0x06, 0x25, 0x20};
	check_time(&rtc, &next_day);
	rtc_destroy(&rtc);
}

/* Setting the time in the binary 12-hour format decodes it in that format. */
static void test_set_time_binary_12h(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	reg_write(&rtc, RTC_REG_B, RTC_B_SET | RTC_B_DM_BINARY);
	reg_write(&rtc, RTC_SECONDS, 0);
	reg_write(&rtc, RTC_MINUTES, 0);
	reg_write(&rtc, RTC_HOURS, 0x80 | 12); /* 12 PM */
	reg_write(&rtc, RTC_DAY_OF_MONTH, 14);
	reg_write(&rtc, RTC_MONTH, 7);
	reg_write(&rtc, RTC_YEAR, 24);
	reg_write(&rtc, RTC_CENTURY, 20);
	reg_write(&rtc, RTC_REG_B, RTC_B_DM_BINARY);
	fake_time += 30 * 60;
	reg_write(&rtc, RTC_REG_B, RTC_B_24H);
	const struct rtc_time exp = {0x00, 0x30, 0x12, 1, 0x14, 0x07, 0x24, 0x20};
	check_time(&rtc, &exp);
	rtc_destroy(&rtc);
}

/* A single time register written outside SET moves the clock by that field alone. */
static void test_single_register_write(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	reg_write(&rtc, RTC_MINUTES, 0x30);
	const struct rtc_time exp = {0x07, 0x30, 0x13, 5, 0x29, 0x02, 0x24, 0x20};
	check_time(&rtc, &exp);
	fake_time += 10;
	assert_int_equal(reg_read(&rtc, RTC_SECONDS), 0x17);
	assert_int_equal(reg_read(&rtc, RTC_MINUTES), 0x30);
	/* Alarm registers are storage: they read back and leave the time alone. */
	reg_write(&rtc, RTC_SECONDS_ALARM, 0x45);
	reg_write(&rtc, RTC_MINUTES_ALARM, 0x44);
	reg_write(&rtc, RTC_HOURS_ALARM, 0x43);
	assert_int_equal(reg_read(&rtc, RTC_SECONDS_ALARM), 0x45);
	assert_int_equal(reg_read(&rtc, RTC_MINUTES_ALARM), 0x44);
	assert_int_equal(reg_read(&rtc, RTC_HOURS_ALARM), 0x43);
	assert_int_equal(reg_read(&rtc, RTC_SECONDS), 0x17);
	assert_int_equal(reg_read(&rtc, RTC_MINUTES), 0x30);
	rtc_destroy(&rtc);
}

static bool is_time_or_status(unsigned idx)
{
	return idx <= RTC_REG_D || idx == RTC_CENTURY;
}

static void test_cmos_memory(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	for (unsigned i = RTC_REG_D + 1; i < RTC_CMOS_SIZE; i++)
		if (!is_time_or_status(i))
			reg_write(&rtc, (uint8_t)i, (uint8_t)(i * 7 + 3));
	for (unsigned i = RTC_REG_D + 1; i < RTC_CMOS_SIZE; i++)
		if (!is_time_or_status(i))
			assert_int_equal(reg_read(&rtc, (uint8_t)i), (uint8_t)(i * 7 + 3));
	const struct rtc_time exp = {0x07, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20};
	check_time(&rtc, &exp);
	rtc_destroy(&rtc);
}

static unsigned read16(struct rtc *rtc, uint8_t idx)
{
	return reg_read(rtc, idx) | (unsigned)reg_read(rtc, (uint8_t)(idx + 1)) << 8;
}

static void test_memory_size_bytes(void **state)
{
	(void)state;
	static const struct {
		uint64_t below, above;
		unsigned ext_kib, above16_64k;
		uint32_t high_64k;
	} cases[] = {
		{8 * MIB, 0, 7 * 1024, 0, 0},
		{16 * MIB, 0, 15 * 1024, 0, 0},
		{48 * MIB, 0, 47 * 1024, 32 * 16, 0},
		{100 * MIB, 0, 0, 84 * 16, 0}, /* ext_kib: capped, checked below */
		{512 * MIB, 0, 0, 496 * 16, 0},
		{3 * GIB, 2 * GIB, 0, (3072 - 16) * 16, 2 * 16 * 1024},
		{3 * GIB, 1023 * GIB, 0, (3072 - 16) * 16, 1023 * 16 * 1024},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rtc rtc;
		fake_time = T_LEAP_DAY;
		rtc_init(&rtc, fake_now, cases[i].below, cases[i].above);
		assert_int_equal(read16(&rtc, 0x15), 640);
		unsigned ext = read16(&rtc, 0x17);
		if (cases[i].ext_kib) {
			assert_int_equal(ext, cases[i].ext_kib);
		} else {
			/* Above 64 MiB the 1-64 MiB count saturates (0xFC00 or 0xFFFF by BIOS). */
			assert_in_range(ext, 0xfc00, 0xffff);
		}
		assert_int_equal(read16(&rtc, 0x30), ext);
		assert_int_equal(read16(&rtc, 0x34), cases[i].above16_64k);
		uint32_t high = reg_read(&rtc, 0x5b) | (uint32_t)reg_read(&rtc, 0x5c) << 8 |
				(uint32_t)reg_read(&rtc, 0x5d) << 16;
		assert_int_equal(high, cases[i].high_64k);
		rtc_destroy(&rtc);
	}
}

static void test_trap(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_LEAP_DAY);
	uint8_t buf[2] = {RTC_MINUTES, 0};
	assert_int_equal(rtc_trap(&rtc, 0, buf, 1, true), 0);
	assert_int_equal(rtc_trap(&rtc, 1, buf, 1, false), 0);
	assert_int_equal(buf[0], 0x45);
	assert_int_equal(rtc_trap(&rtc, 0, buf, 2, false), -EINVAL);
	assert_int_equal(rtc_trap(&rtc, RTC_NR_PORTS, buf, 1, true), -EINVAL);
	rtc_destroy(&rtc);
}

/* What the fake IRQ 8 and host timer saw. */
struct periodic {
	unsigned raises, lowers;
	bool level;
	unsigned arms;
	uint64_t period_ns;
};

static int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct periodic *p = ctx;
	assert_int_equal(gsi, 8);
	assert_true(level != p->level); /* only edges are driven */
	p->level = level;
	level ? p->raises++ : p->lowers++;
	return 0;
}

static void fake_arm(void *ctx, uint64_t period_ns)
{
	struct periodic *p = ctx;
	p->arms++;
	p->period_ns = period_ns;
}

static void periodic_setup(struct rtc *rtc, struct periodic *p)
{
	memset(p, 0, sizeof(*p));
	setup(rtc, T_NOON);
	rtc_set_timer(rtc, (struct vmm_irq){.set = fake_irq, .ctx = p, .gsi = 8}, fake_arm, p);
}

/* PIE starts the host timer at the rate of register A; each tick sets PF and IRQF and raises
 * IRQ 8; reading register C clears both and lowers it; ticks the guest has not acknowledged
 * merge into one interrupt. */
static void test_periodic_interrupt(void **state)
{
	(void)state;
	struct rtc rtc;
	struct periodic p;
	periodic_setup(&rtc, &p);
	assert_int_equal(p.period_ns, 0); /* PIE is off after reset */
	rtc_periodic_tick(&rtc);	  /* a tick racing with PIE going off */
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	assert_int_equal(p.period_ns, 976562); /* rate 6: 1024 Hz */
	assert_int_equal(rtc_period_ns(&rtc), 976562);
	rtc_periodic_tick(&rtc);
	rtc_periodic_tick(&rtc);
	assert_int_equal(p.raises, 1);
	assert_true(p.level);
	assert_int_equal(reg_read(&rtc, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
	assert_false(p.level);
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0);
	rtc_periodic_tick(&rtc);
	assert_int_equal(p.raises, 2);
	/* Turning PIE off drops IRQF and the line (PF stays) and stops the timer; turning it on
	 * again with PF still set raises the line at once. */
	reg_write(&rtc, RTC_REG_B, RTC_B_24H);
	assert_false(p.level);
	assert_int_equal(p.period_ns, 0);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	assert_true(p.level);
	assert_int_equal(p.raises, 3);
	assert_int_equal(reg_read(&rtc, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H);
	rtc_periodic_tick(&rtc); /* PIE off: PF is not set */
	assert_int_equal(reg_read(&rtc, RTC_REG_C), 0);
	assert_int_equal(p.raises, 3);
	rtc_destroy(&rtc);
}

/* The rate table of the datasheet with the 32.768 kHz time base (register A bits 6:4 = 010):
 * rates 3-15 are 2^(rate - 1) cycles, 1 and 2 repeat 8 and 9, 0 and a stopped divider stop it;
 * the timer is re-armed only when the period changes. */
static void test_periodic_rates(void **state)
{
	(void)state;
	struct rtc rtc;
	struct periodic p;
	periodic_setup(&rtc, &p);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	static const struct {
		uint8_t a;
		uint64_t ns;
	} rates[] = {{0x23, 122070},  {0x24, 244140},  {0x2f, 500000000}, {0x21, 3906250},
		     {0x22, 7812500}, {0x28, 3906250}, {0x20, 0},	  {0x06, 0},
		     {0x76, 0},	      {0x26, 976562}};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		reg_write(&rtc, RTC_REG_A, rates[i].a);
		assert_int_equal(p.period_ns, rates[i].ns);
		assert_int_equal(rtc_period_ns(&rtc), rates[i].ns);
	}
	unsigned arms = p.arms;
	reg_write(&rtc, RTC_REG_A, 0x26);
	reg_write(&rtc, RTC_REG_B, RTC_B_24H | RTC_B_PIE | RTC_B_DM_BINARY);
	assert_int_equal(p.arms, arms);
	rtc_destroy(&rtc);
}

/* Bytes the host sets for the firmware (boot order, CPU count) read back through the ports. */
static void test_cmos_set(void **state)
{
	(void)state;
	struct rtc rtc;
	setup(&rtc, T_NOON);
	rtc_cmos_set(&rtc, RTC_CMOS_BOOT_ORDER, RTC_BOOT_DISK);
	rtc_cmos_set(&rtc, RTC_CMOS_SMP_COUNT, 3);
	rtc_cmos_set(&rtc, RTC_CMOS_SIZE, 0x55); /* out of range: ignored */
	assert_int_equal(reg_read(&rtc, RTC_CMOS_BOOT_ORDER), RTC_BOOT_DISK);
	assert_int_equal(reg_read(&rtc, RTC_CMOS_SMP_COUNT), 3);
	assert_int_equal(reg_read(&rtc, RTC_CMOS_BOOT_ORDER_3), 0);
	rtc_destroy(&rtc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periodic_interrupt),
		cmocka_unit_test(test_periodic_rates),
		cmocka_unit_test(test_cmos_set),
		cmocka_unit_test(test_time_in_bcd_24h),
		cmocka_unit_test(test_time_in_binary),
		cmocka_unit_test(test_time_in_12h),
		cmocka_unit_test(test_status_registers),
		cmocka_unit_test(test_index_port_masks_nmi_bit),
		cmocka_unit_test(test_set_time_then_follow_clock),
		cmocka_unit_test(test_set_time_binary_12h),
		cmocka_unit_test(test_single_register_write),
		cmocka_unit_test(test_cmos_memory),
		cmocka_unit_test(test_memory_size_bytes),
		cmocka_unit_test(test_trap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
