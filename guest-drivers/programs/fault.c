// SPDX-License-Identifier: MIT
/*
 * fault: an exception nobody catches, to see ring 0's report (and exit code G_EXIT_FAULT).
 *   kind=pf (default)  write to page 0 at CPL3
 *   kind=ud            ud2 at CPL3
 *   kind=kernel        point ring 0's EOI pointer at page 0 and take a timer interrupt: a
 *                      fault at CPL0 (ring 0 trusts CPL3 code, which can reach all memory)
 */
#include "drivers/lapic.h"
#include "kernel/kcpu.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/programs.h"
#include "runtime/platform.h"
#include "runtime/syscall.h"

#define FAULT_ADDR  0x10
#define TIMER_TICKS 1000

int g_fault_main(struct g_run *run)
{
	const char *kind = g_arg("kind");

	if (!kind || !strcmp(kind, "pf")) {
		g_printf("fault: writing to 0x%x with no trap handler\n", FAULT_ADDR);
		*g_unmapped_ptr(FAULT_ADDR) = 1;
	} else if (!strcmp(kind, "ud")) {
		g_printf("fault: ud2 with no trap handler\n");
		asm volatile("ud2");
	} else if (!strcmp(kind, "kernel")) {
		uint64_t seq = g_irq_seq();

		g_printf("fault: LAPIC EOI pointer at 0x%x, then a timer interrupt\n", FAULT_ADDR);
		g_lapic_eoi = g_unmapped_ptr(FAULT_ADDR);
		g_lapic_timer_oneshot(G_VEC_TIMER, TIMER_TICKS);
		for (int i = 0; i < 3;
		     i++) /* the first interrupt faults; a few tries for wake-ups */
			seq = g_sys_wait(seq);
		g_lapic_timer_stop();
	} else {
		return g_run_fail(run, "unknown kind=%s (known: pf ud kernel)", kind);
	}
	return g_run_fail(run, "kind=%s did not fault", kind ? kind : "pf");
}
