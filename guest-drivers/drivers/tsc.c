// SPDX-License-Identifier: MIT
/*
 * TSC calibration with PIT channel 2, whose gate is port 0x61 bit 0 and whose output can be
 * read back in port 0x61 bit 5, so no interrupt is involved. Mode 0 drives OUT2 low when the
 * count is written and high when it reaches zero.
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"

#define PIT_HZ		   1193182
#define PIT_CH2_DATA	   0x42
#define PIT_MODE	   0x43
#define PIT_SEL_CH2	   0x80
#define PIT_ACCESS_LOHI	   0x30
#define PIT_MODE0	   0x00
#define PORT61		   0x61
#define PORT61_GATE2	   0x01
#define PORT61_SPEAKER	   0x02
#define PORT61_OUT2	   0x20
#define G_TSC_CALIBRATE_MS 10
/* Bounds a dead PIT. Each poll is a port read (an exit under vmmon, a few us), so this is
 * seconds, far more than the 10 ms that should pass. */
#define PIT_POLL_LIMIT 10000000

static uint64_t tsc_khz;

int g_tsc_calibrate(void)
{
	uint32_t latch = PIT_HZ * G_TSC_CALIBRATE_MS / 1000;
	uint64_t t0, t1;
	uint8_t p61;
	long i;

	/* Gate on, speaker off, then program a mode-0 count. */
	p61 = g_inb(PORT61);
	g_outb(PORT61, (p61 & ~PORT61_SPEAKER) | PORT61_GATE2);
	g_outb(PIT_MODE, PIT_SEL_CH2 | PIT_ACCESS_LOHI | PIT_MODE0);
	g_outb(PIT_CH2_DATA, latch & 0xff);
	g_outb(PIT_CH2_DATA, latch >> 8);
	t0 = g_rdtsc();
	for (i = 0; i < PIT_POLL_LIMIT; i++) {
		if (g_inb(PORT61) & PORT61_OUT2)
			break;
	}
	t1 = g_rdtsc();
	g_outb(PORT61, p61 & ~(PORT61_SPEAKER | PORT61_GATE2));
	if (i == PIT_POLL_LIMIT)
		return -ETIMEDOUT;
	tsc_khz = (t1 - t0) / G_TSC_CALIBRATE_MS;
	if (!tsc_khz)
		tsc_khz = 1;
	return 0;
}

uint64_t g_tsc_khz(void)
{
	return tsc_khz;
}

uint64_t g_tsc_deadline(uint64_t us)
{
	return g_rdtsc() + us * tsc_khz / 1000;
}

bool g_tsc_passed(uint64_t deadline)
{
	return (int64_t)(g_rdtsc() - deadline) >= 0;
}

void g_udelay(uint64_t us)
{
	uint64_t deadline = g_tsc_deadline(us);

	while (!g_tsc_passed(deadline))
		g_cpu_relax();
}

uint64_t g_tsc_to_us(uint64_t ticks)
{
	return tsc_khz ? ticks * 1000 / tsc_khz : 0;
}
