/* SPDX-License-Identifier: MIT */
/*
 * Catching exceptions at CPL3, like a signal handler that longjmps:
 *
 *	struct g_catch c;
 *
 *	if (g_setjmp(&c.jb) == 0) {
 *		g_catch_arm(&c);
 *		... code that may fault ...
 *		g_catch_disarm();
 *	} else {
 *		... c.trap describes the exception; the catch is disarmed ...
 *	}
 *
 * Locals changed between g_setjmp and the fault must be volatile. One catch per CPU at a time.
 */
#ifndef G_RUNTIME_TRAP_H
#define G_RUNTIME_TRAP_H

#include <stdint.h>

#include "lib/setjmp.h"

struct g_trap {
	uint64_t vector;
	uint64_t error;
	uint64_t cr2;
	uint64_t rip;
	uint64_t rsp;
};

struct g_catch {
	struct g_jmp_buf jb;
	struct g_trap trap;
};

/* Returns 0, or -errno if ring 0 refused the handler. */
int g_catch_arm(struct g_catch *c);
void g_catch_disarm(void);

#endif
