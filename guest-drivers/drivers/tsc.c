// SPDX-License-Identifier: MIT
/*
 * TSC calibration with PIT channel 2, whose gate is port 0x61 bit 0 and whose output can be
 * read back in port 0x61 bit 5, so no interrupt is involved. Mode 0 drives OUT2 low when the
 * count is written and high when it reaches zero.
 *
 * A machine without port 0x61 (QEMU's microvm) reads OUT2 high at once; channel 2's gate is
 * then out of reach too, so channel 0, whose gate is always on, is read back with latch
 * commands instead.
 *
 * A hypervisor that publishes the TSC's rate spares all that: CPUID leaf 0x40000010 (VMware's
 * convention, filled by vmmon and by QEMU with KVM when the host's TSC rate is known) has it
 * in EAX, in kHz. A loaded host can stop a vCPU for milliseconds in every PIT round, and a rate
 * measured too high stretches every deadline and "seconds=" the programs keep.
 */
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"

#define PIT_HZ		   1193182
#define PIT_CH2_DATA	   0x42
#define PIT_MODE	   0x43
#define PIT_CH0_DATA	   0x40
#define PIT_SEL_CH0	   0x00
#define PIT_SEL_CH2	   0x80
#define PIT_LATCH_CH0	   0x00 /* counter latch command for channel 0 */
#define PIT_MODE2	   0x04 /* rate generator: counts down by one per tick, reloads */
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

static uint16_t read_ch0(void)
{
	uint8_t lo;

	g_outb(PIT_MODE, PIT_SEL_CH0 | PIT_LATCH_CH0);
	lo = g_inb(PIT_CH0_DATA);
	return (uint16_t)(lo | g_inb(PIT_CH0_DATA) << 8);
}

/* Counts latch ticks of channel 0, restarted in mode 2 with the largest count (65536, about
 * 55 ms a round, far longer than between two reads). Returns the TSC ticks they took, or 0. */
static uint64_t measure_ch0(uint32_t latch)
{
	uint32_t elapsed = 0;
	uint16_t prev, cur;
	uint64_t t0;
	long i;

	g_outb(PIT_MODE, PIT_SEL_CH0 | PIT_ACCESS_LOHI | PIT_MODE2);
	g_outb(PIT_CH0_DATA, 0);
	g_outb(PIT_CH0_DATA, 0);
	prev = read_ch0();
	t0 = g_rdtsc();
	for (i = 0; i < PIT_POLL_LIMIT && elapsed < latch; i++) {
		cur = read_ch0();
		elapsed += (uint16_t)(prev - cur); /* counts down, wrapping at 0 */
		prev = cur;
	}
	return i == PIT_POLL_LIMIT ? 0 : g_rdtsc() - t0;
}

/* One mode-0 round of channel 2: the TSC ticks from writing the count's last byte (which
 * starts it) to OUT2 going high, or 0 if OUT2 never rose. Being descheduled anywhere in
 * between can only add ticks, never remove them. */
static uint64_t measure_ch2(uint32_t latch)
{
	uint64_t t0;
	long i;

	g_outb(PIT_MODE, PIT_SEL_CH2 | PIT_ACCESS_LOHI | PIT_MODE0);
	g_outb(PIT_CH2_DATA, latch & 0xff);
	t0 = g_rdtsc();
	g_outb(PIT_CH2_DATA, latch >> 8);
	for (i = 0; i < PIT_POLL_LIMIT; i++) {
		if (g_inb(PORT61) & PORT61_OUT2)
			return g_rdtsc() - t0;
	}
	return 0;
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* The TSC's kHz from the hypervisor's timing leaf, or 0. */
static uint64_t hypervisor_tsc_khz(void)
{
	uint32_t a, b, c, d;

	cpuid(1, &a, &b, &c, &d);
	if (!(c & (1u << 31))) /* no hypervisor */
		return 0;
	cpuid(0x40000000, &a, &b, &c, &d);
	if (a < 0x40000010)
		return 0;
	cpuid(0x40000010, &a, &b, &c, &d);
	return a;
}

int g_tsc_calibrate(void)
{
	uint32_t latch = PIT_HZ * G_TSC_CALIBRATE_MS / 1000;
	uint64_t best = 0;
	uint8_t p61;

	tsc_khz = hypervisor_tsc_khz();
	if (tsc_khz)
		return 0;

	/* Gate on, speaker off, then program a mode-0 count. */
	p61 = g_inb(PORT61);
	g_outb(PORT61, (p61 & ~PORT61_SPEAKER) | PORT61_GATE2);
	g_outb(PIT_MODE, PIT_SEL_CH2 | PIT_ACCESS_LOHI | PIT_MODE0);
	g_outb(PIT_CH2_DATA, latch & 0xff);
	g_outb(PIT_CH2_DATA, latch >> 8);
	if (g_inb(PORT61) & PORT61_OUT2) { /* high before any count: no port 0x61 */
		g_outb(PORT61, p61 & ~(PORT61_SPEAKER | PORT61_GATE2));
		tsc_khz = measure_ch0(latch) / G_TSC_CALIBRATE_MS;
		return tsc_khz ? 0 : -ETIMEDOUT;
	}
	/* A loaded host can stop this vCPU for milliseconds mid-round; that only lengthens a
	 * round, so the shortest of a few is the truest. */
	for (int round = 0; round < 3; round++) {
		uint64_t t = measure_ch2(latch);
		if (t && (!best || t < best))
			best = t;
	}
	g_outb(PORT61, p61 & ~(PORT61_SPEAKER | PORT61_GATE2));
	if (!best)
		return -ETIMEDOUT;
	tsc_khz = best / G_TSC_CALIBRATE_MS;
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
