/* SPDX-License-Identifier: MIT */
/* Non-local jumps (callee-saved registers, stack and return address only). */
#ifndef G_LIB_SETJMP_H
#define G_LIB_SETJMP_H

#include <stdint.h>

struct g_jmp_buf {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* Returns 0 when called, and val (never 0) when g_longjmp comes back to it. */
int g_setjmp(struct g_jmp_buf *jb) __attribute__((returns_twice));
void g_longjmp(struct g_jmp_buf *jb, int val) __attribute__((noreturn));

#endif
