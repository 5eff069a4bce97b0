// SPDX-License-Identifier: MIT
/*
 * User side of exception delivery. Ring 0 copies the frame to this CPU's trap record and
 * "returns" into trap_entry at CPL3 (a one-shot: ring 0 forgets the handler as it delivers).
 */
#include "kernel/kcpu.h"
#include "lib/printf.h"
#include "runtime/cpu.h"
#include "runtime/program.h"
#include "runtime/syscall.h"
#include "runtime/trap.h"

static void __attribute__((noreturn)) trap_entry(struct g_trap_record *rec)
{
	struct g_cpu *cpu = g_this_cpu();
	struct g_catch *c = cpu->catcher;
	const struct g_trap_frame *f = &rec->frame;

	if (!c) { /* armed by hand without a catch: report like ring 0 would */
		g_printf(
			"guest: cpu %u: unhandled %s (vector %lu) at cpl3: error 0x%lx cr2 0x%lx rip "
			"0x%lx\n",
			cpu->index, g_exception_name(f->vector), f->vector, f->error, rec->cr2,
			f->rip);
		g_printf("guest: FAIL %s: unhandled %s at cpl3\n", g_program_name(),
			 g_exception_name(f->vector));
		g_sys_exit(G_EXIT_FAULT);
	}
	cpu->catcher = 0;
	c->trap = (struct g_trap){
		.vector = f->vector,
		.error = f->error,
		.cr2 = rec->cr2,
		.rip = f->rip,
		.rsp = f->rsp,
	};
	g_longjmp(&c->jb, 1);
}

int g_catch_arm(struct g_catch *c)
{
	g_this_cpu()->catcher = c;
	return g_sys_set_trap(trap_entry);
}

void g_catch_disarm(void)
{
	g_sys_set_trap(0);
	g_this_cpu()->catcher = 0;
}
