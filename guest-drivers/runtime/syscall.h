/* SPDX-License-Identifier: MIT */
/*
 * System calls into ring 0: int3 (kernel/layout.h says why not int $0x80; numbers and semantics
 * are there too). Ring 0 only does what CPL3 cannot: halt, end the VM on real hardware, and
 * redirect exceptions.
 */
#ifndef G_RUNTIME_SYSCALL_H
#define G_RUNTIME_SYSCALL_H

#include <stdint.h>

#include "kernel/kcpu.h"
#include "kernel/layout.h"

static inline long g_syscall1(long nr, long a0)
{
	long ret;

	/* "memory": SYS_WAIT returns after interrupts that changed the per-CPU counters. */
	asm volatile("int3" : "=a"(ret) : "a"(nr), "D"(a0) : "memory");
	return ret;
}

static inline __attribute__((noreturn)) void g_sys_exit(uint32_t code)
{
	g_syscall1(G_SYS_EXIT, code);
	__builtin_unreachable();
}

/* Sleeps until an interrupt arrives, unless one arrived since irq_seq read seen. Returns the
 * current irq_seq: the caller's next "seen". */
static inline uint64_t g_sys_wait(uint64_t seen)
{
	return (uint64_t)g_syscall1(G_SYS_WAIT, (long)seen);
}

typedef void (*g_trap_handler_fn)(struct g_trap_record *rec);

/* Registers this CPU's one-shot handler for the next exception at CPL3; NULL removes it. */
static inline int g_sys_set_trap(g_trap_handler_fn handler)
{
	return (int)g_syscall1(G_SYS_SET_TRAP, (long)(uintptr_t)handler);
}

#endif
