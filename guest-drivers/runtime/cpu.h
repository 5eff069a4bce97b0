/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU state of the user-mode runtime. struct g_cpu sits at the bottom of each CPU's user
 * stack block, so user code finds its own CPU from %rsp without a segment base or a syscall.
 */
#ifndef G_RUNTIME_CPU_H
#define G_RUNTIME_CPU_H

#include <stdint.h>

#include "kernel/kcpu.h"
#include "kernel/layout.h"
#include "lib/io.h"

struct g_catch;

struct g_cpu {
	unsigned int index;
	unsigned int apic_id;
	struct g_kcpu *kcpu;	 /* this CPU's ring-0 block: interrupt counters, trap record */
	struct g_catch *catcher; /* armed g_catch, or NULL (runtime/trap.c) */
	uint32_t online;	 /* set by an AP once it runs at CPL3 */
	uint64_t wait_tsc;	 /* TSC ticks asleep in SYS_WAIT (runtime/platform.c) */
};

union g_ustack {
	struct g_cpu cpu;
	uint8_t bytes[G_USTACK_SIZE]; /* the stack grows down from the end towards cpu */
};
_Static_assert(sizeof(union g_ustack) == G_USTACK_SIZE, "user stack block size");

/* G_MAX_CPUS blocks, aligned to G_USTACK_SIZE (kernel/tables.S). */
extern union g_ustack g_ustack[];

/* The calling CPU's struct g_cpu; CPL3 only, on the CPU's own user stack. */
static inline struct g_cpu *g_this_cpu(void)
{
	uintptr_t sp;

	asm("mov %%rsp, %0" : "=r"(sp));
	return (struct g_cpu *)(sp & -(uintptr_t)G_USTACK_SIZE);
}

/* The calling CPU's index, at CPL3 (from the user stack) or at CPL0 (from the kernel stack). */
static inline unsigned int g_cpu_index(void)
{
	uintptr_t sp;

	if (g_current_cpl())
		return g_this_cpu()->index;
	asm("mov %%rsp, %0" : "=r"(sp));
	return (unsigned int)((sp - (uintptr_t)g_kcpu) >> G_KCPU_SHIFT);
}

#endif
