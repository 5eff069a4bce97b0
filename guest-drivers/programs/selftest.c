// SPDX-License-Identifier: MIT
/*
 * selftest: the kernel's mechanisms, one check each:
 *  (a) a page fault at CPL3 is caught by a trap handler, and the program goes on;
 *  (b) so is a divide error;
 *  (c) a one-shot LAPIC timer interrupt arrives while the CPU sleeps in SYS_WAIT;
 *  (d) the UART's THR-empty interrupt arrives through the I/O APIC pin the MP table names;
 *  (e) every CPU in the MP table comes up and reports in.
 * Durations and rates go on "time:" lines, which may differ between machines.
 */
#include <linux/serial_reg.h>

#include "drivers/lapic.h"
#include "drivers/smp.h"
#include "drivers/tsc.h"
#include "guest_abi.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "programs/programs.h"
#include "runtime/bootinfo.h"
#include "runtime/cpu.h"
#include "runtime/platform.h"
#include "runtime/syscall.h"
#include "runtime/trap.h"

#define VEC_DE		    0
#define VEC_PF		    14
#define PF_WRITE	    0x2
#define PF_USER		    0x4
#define FAULT_ADDR	    0x10
#define TIMER_TICKS	    100000 /* 1.6 ms on a 1 GHz APIC bus */
#define TIMER_TIMEOUT_US    1000000
#define UART_IRQ_TIMEOUT_US 1000000

static int check_page_fault(struct g_run *run)
{
	struct g_catch c;

	if (g_setjmp(&c.jb) == 0) {
		if (g_catch_arm(&c))
			return g_run_fail(run, "SYS_SET_TRAP refused the handler");
		*g_unmapped_ptr(FAULT_ADDR) = 1;
		g_catch_disarm();
		return g_run_fail(run, "writing to 0x%x did not fault", FAULT_ADDR);
	}
	g_printf("selftest: page fault caught: address 0x%lx error 0x%lx\n", c.trap.cr2,
		 c.trap.error);
	if (c.trap.vector != VEC_PF)
		return g_run_fail(run, "expected #PF, caught vector %lu", c.trap.vector);
	if (c.trap.cr2 != FAULT_ADDR || c.trap.error != (PF_WRITE | PF_USER))
		return g_run_fail(run, "#PF reported address 0x%lx error 0x%lx, expected 0x%x 0x%x",
				  c.trap.cr2, c.trap.error, FAULT_ADDR, PF_WRITE | PF_USER);
	return 0;
}

static uint64_t divide(uint64_t dividend, uint64_t divisor)
{
	uint64_t quotient, remainder;

	asm volatile("divq %4"
		     : "=a"(quotient), "=d"(remainder)
		     : "a"(dividend), "d"(0ull), "r"(divisor));
	return quotient;
}

static int check_divide_error(struct g_run *run)
{
	volatile uint64_t zero = 0;
	struct g_catch c;

	if (g_setjmp(&c.jb) == 0) {
		if (g_catch_arm(&c))
			return g_run_fail(run, "SYS_SET_TRAP refused the handler");
		divide(1, zero);
		g_catch_disarm();
		return g_run_fail(run, "dividing by zero did not fault");
	}
	g_printf("selftest: divide error caught: vector %lu\n", c.trap.vector);
	if (c.trap.vector != VEC_DE)
		return g_run_fail(run, "expected #DE, caught vector %lu", c.trap.vector);
	return 0;
}

static int check_lapic_timer(struct g_run *run)
{
	uint64_t seen = g_irq_count(G_VEC_TIMER);
	uint64_t deadline = g_tsc_deadline(TIMER_TIMEOUT_US);
	uint64_t t0 = g_rdtsc();

	g_lapic_timer_oneshot(G_VEC_TIMER, TIMER_TICKS);
	for (;;) {
		uint64_t seq = g_irq_seq(); /* before the count: see g_irq_wait */

		if (g_irq_count(G_VEC_TIMER) != seen)
			break;
		if (g_tsc_passed(deadline)) { /* only reachable if something else woke us */
			g_lapic_timer_stop();
			return g_run_fail(run, "no LAPIC timer interrupt");
		}
		g_sys_wait(seq);
	}
	g_printf("time: lapic timer one-shot fired after %lu us\n", g_tsc_to_us(g_rdtsc() - t0));
	g_printf("selftest: lapic timer interrupt taken (vector 0x%x)\n", G_VEC_TIMER);
	return 0;
}

static int check_uart_irq(struct g_run *run)
{
	struct g_uart *uart = &g_platform.uart;
	int pin = g_platform_isa_irq_pin(uart->irq);
	unsigned int vector;
	uint64_t seen;
	int rc;

	if (pin < 0)
		return g_run_fail(run, "no I/O APIC pin for ISA IRQ %u in the MP table", uart->irq);
	rc = g_platform_route_isa_irq(uart->irq, &vector);
	if (rc)
		return g_run_fail(run, "routing ISA IRQ %u failed (error %d)", uart->irq, rc);
	seen = g_irq_count(vector);
	/* The holding register is empty (nothing is being printed), so enabling THRI raises the
	 * interrupt at once. Nothing may print until it is disabled again. */
	g_uart_set_ier(uart, UART_IER_THRI);
	rc = g_irq_wait(vector, seen, UART_IRQ_TIMEOUT_US);
	g_uart_read_iir(uart);
	g_uart_set_ier(uart, 0);
	g_platform_mask_isa_irq(uart->irq);
	if (rc)
		return g_run_fail(run, "no interrupt from the UART (ISA IRQ %u, I/O APIC pin %d)",
				  uart->irq, pin);
	g_printf("selftest: uart THR-empty interrupt taken (ISA IRQ %u, I/O APIC pin %d, vector "
		 "0x%x)\n",
		 uart->irq, pin, vector);
	return 0;
}

static int check_cpus(struct g_run *run)
{
	const struct g_mp_info *mp = &g_platform.mp;
	int rc;

	if (mp->ncpus > G_MAX_CPUS)
		return g_run_fail(run, "the MP table lists %u CPUs, at most %d are supported",
				  mp->ncpus, G_MAX_CPUS);
	g_printf("cpu 0: online (apic id %u)\n", g_this_cpu()->apic_id);
	if (mp->ncpus == 1)
		return 0;
	if (!g_memmap_is_ram(&g_boot, G_TRAMPOLINE_ADDR, 4096))
		return g_run_fail(run, "no RAM at 0x%x for the AP trampoline", G_TRAMPOLINE_ADDR);
	rc = g_smp_install_trampoline();
	if (rc)
		return g_run_fail(run, "AP trampoline does not fit (error %d)", rc);
	for (unsigned int i = 1; i < mp->ncpus; i++) {
		unsigned int apic_id = mp->cpu[i].apic_id;

		rc = g_smp_start_ap(i, apic_id);
		if (rc)
			return g_run_fail(run, "cpu %u (apic id %u) did not come up (error %d)", i,
					  apic_id, rc);
		if (g_ustack[i].cpu.apic_id != apic_id)
			return g_run_fail(run, "cpu %u reports apic id %u, the MP table says %u", i,
					  g_ustack[i].cpu.apic_id, apic_id);
	}
	return 0;
}

int g_selftest_main(struct g_run *run)
{
	int rc;

	if (g_platform.mp_err)
		return g_run_fail(run, "no usable MP table (error %d)", g_platform.mp_err);
	rc = g_tsc_calibrate();
	if (rc)
		return g_run_fail(run, "PIT channel 2 did not count down (error %d)", rc);
	g_printf("time: tsc %lu kHz\n", g_tsc_khz());
	rc = check_page_fault(run);
	if (!rc)
		rc = check_divide_error(run);
	if (!rc)
		rc = check_lapic_timer(run);
	if (!rc)
		rc = check_uart_irq(run);
	if (!rc)
		rc = check_cpus(run);
	return rc;
}
