// SPDX-License-Identifier: MIT
/*
 * First user-mode code of each CPU. Ring 0 "calls" g_user_bsp_entry(0, start_info) and
 * g_user_ap_entry(cpu, cpu) on the CPU's user stack, interrupts on.
 */
#include <stdarg.h>
#include <stdint.h>

#include "drivers/lapic.h"
#include "drivers/smp.h"
#include "kernel/layout.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "runtime/bootinfo.h"
#include "runtime/cpu.h"
#include "runtime/platform.h"
#include "runtime/program.h"
#include "runtime/syscall.h"

#ifndef G_VERSION
#define G_VERSION "0"
#endif

void g_user_bsp_entry(unsigned int cpu, uint64_t start_info) __attribute__((noreturn));
void g_user_ap_entry(unsigned int cpu) __attribute__((noreturn));

static const char *program_name = "boot";

const char *g_program_name(void)
{
	return program_name;
}

int g_run_fail(struct g_run *run, const char *fmt, ...)
{
	va_list ap;

	if (!run->why[0]) {
		va_start(ap, fmt);
		g_vsnprintf(run->why, sizeof(run->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct g_program *find_program(const char *name)
{
	for (size_t i = 0; i < g_program_count; i++) {
		if (!strcmp(g_programs[i].name, name))
			return &g_programs[i];
	}
	return NULL;
}

static void __attribute__((noreturn)) finish(struct g_run *run, int rc)
{
	if (!rc) {
		g_printf("guest: PASS %s\n", run->name);
		g_sys_exit(G_EXIT_PASS);
	}
	g_printf("guest: FAIL %s: %s\n", run->name, run->why[0] ? run->why : "failed");
	g_sys_exit(G_EXIT_FAIL);
}

static int unknown_program(struct g_run *run)
{
	char known[128] = "";
	size_t len = 0;

	for (size_t i = 0; i < g_program_count && len < sizeof(known); i++)
		len += g_snprintf(known + len, sizeof(known) - len, "%s%s", i ? " " : "",
				  g_programs[i].name);
	return g_run_fail(run, "unknown program (known: %s)", known);
}

void g_user_bsp_entry(unsigned int cpu, uint64_t start_info)
{
	struct g_cpu *self = g_this_cpu();
	struct g_run run = {.name = "(none)"};
	const struct g_program *prog;
	const char *name;
	int boot_rc;

	*self = (struct g_cpu){.index = cpu, .kcpu = &g_kcpu[cpu], .online = 1};
	/* Before anything can write low memory (the AP trampoline goes to 0x8000). */
	boot_rc = g_bootinfo_copy(start_info);
	g_platform_init();
	self->apic_id = g_lapic_id();

	name = g_arg("run");
	if (name && *name)
		run.name = name;
	program_name = run.name;
	g_printf("vmmon guest %s: %s\n", G_VERSION, run.name);
	if (boot_rc)
		finish(&run, g_run_fail(&run, "bad PVH start info (error %d)", boot_rc));
	prog = name ? find_program(name) : NULL;
	if (!prog)
		finish(&run, unknown_program(&run));
	finish(&run, prog->main(&run));
}

void g_user_ap_entry(unsigned int cpu)
{
	struct g_cpu *self = g_this_cpu(); /* filled in by g_smp_start_ap */
	uint64_t seq;

	g_platform_init_ap();
	self->apic_id = g_lapic_id();
	g_printf("cpu %u: online (apic id %u)\n", cpu, self->apic_id);
	g_smp_ap_online();
	/* Nothing to do yet: sleep. Interrupts still get counted and EOIed. */
	seq = g_irq_seq();
	for (;;)
		seq = g_sys_wait(seq);
}
