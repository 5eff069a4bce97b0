// SPDX-License-Identifier: MIT
/*
 * The ring-0 report of a fatal exception: a fault at CPL0, #DF/#MC, or a fault at CPL3 with no
 * trap handler registered. Runs at CPL0 (slow under vmmon, but only once, on the way out): it
 * prints the vector, error code, CR2, RIP and the registers, then the program's FAIL line, and
 * ends the VM through the debug-exit port.
 */
#include <stdint.h>

#include "kernel/kcpu.h"
#include "lib/printf.h"
#include "runtime/program.h"

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE",  "#CP",
};

const char *g_exception_name(uint64_t vector)
{
	if (vector < 32 && exception_names[vector])
		return exception_names[vector];
	return "exception";
}

void g_kernel_fault(struct g_trap_frame *f, uint64_t cr2)
{
	struct g_kcpu *k = (struct g_kcpu *)((uintptr_t)f & -(uintptr_t)G_KCPU_SIZE);
	const char *name = g_exception_name(f->vector);
	unsigned int cpl = f->cs & 3;

	/* A fault while reporting one: stop rather than recurse. */
	if (k->fatal++)
		g_kernel_halt(G_EXIT_FAULT);

	g_printf(
		"guest: cpu %u: unhandled %s (vector %lu) at cpl%u: error 0x%lx cr2 0x%lx rip 0x%lx\n",
		(unsigned int)(k - g_kcpu), name, f->vector, cpl, f->error, cr2, f->rip);
	g_printf("guest:   rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", f->rax, f->rbx, f->rcx,
		 f->rdx);
	g_printf("guest:   rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", f->rsi, f->rdi, f->rbp,
		 f->rsp);
	g_printf("guest:   r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", f->r8, f->r9, f->r10,
		 f->r11);
	g_printf("guest:   r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", f->r12, f->r13, f->r14,
		 f->r15);
	g_printf("guest:   rflags %lx cs %lx ss %lx\n", f->rflags, f->cs, f->ss);
	g_printf("guest: FAIL %s: unhandled %s at cpl%u\n", g_program_name(), name, cpl);
	g_kernel_halt(G_EXIT_FAULT);
}
