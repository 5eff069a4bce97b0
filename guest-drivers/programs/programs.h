/* SPDX-License-Identifier: MIT */
/* The programs; each is one file. The table is programs.c. */
#ifndef G_PROGRAMS_PROGRAMS_H
#define G_PROGRAMS_PROGRAMS_H

#include <stdint.h>

#include "runtime/program.h"

int g_hello_main(struct g_run *run);
int g_selftest_main(struct g_run *run);
int g_fault_main(struct g_run *run);
int g_echo_main(struct g_run *run);
int g_hostile_main(struct g_run *run);
int g_blktest_main(struct g_run *run);
int g_nettest_main(struct g_run *run);
int g_nettx_main(struct g_run *run);
int g_netrx_main(struct g_run *run);
int g_contest_main(struct g_run *run);
int g_rngtest_main(struct g_run *run);

/* An address in the unmapped page 0, hidden from the compiler so that it neither warns about
 * the constant nor treats the access as undefined. */
static inline volatile uint32_t *g_unmapped_ptr(uintptr_t addr)
{
	asm("" : "+r"(addr));
	return (volatile uint32_t *)addr;
}

#endif
