/* SPDX-License-Identifier: MIT */
/* Time from the TSC, calibrated once against the i8254 PIT's channel 2. */
#ifndef G_DRIVERS_TSC_H
#define G_DRIVERS_TSC_H

#include <stdbool.h>
#include <stdint.h>

/* Measures the TSC rate over 10 ms of PIT time. Returns 0, or -ETIMEDOUT if the
 * PIT never signalled the end of the count. */
int g_tsc_calibrate(void);

/* 0 until calibrated. */
uint64_t g_tsc_khz(void);

/* TSC value us microseconds from now; and whether it has passed. */
uint64_t g_tsc_deadline(uint64_t us);
bool g_tsc_passed(uint64_t deadline);

/* Busy-waits at least us microseconds (CPL3, so it costs no exits). */
void g_udelay(uint64_t us);

uint64_t g_tsc_to_us(uint64_t ticks);

#endif
