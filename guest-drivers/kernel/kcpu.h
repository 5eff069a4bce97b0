/* SPDX-License-Identifier: MIT */
/*
 * C view of the ring-0 per-CPU block and of the trap frame; the offsets are fixed in layout.h
 * because the assembly uses them, and checked here.
 */
#ifndef G_KERNEL_KCPU_H
#define G_KERNEL_KCPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/layout.h"

/* Pushed by the exception path: general registers (last pushed first), then what the stub and
 * the CPU pushed. */
struct g_trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct g_trap_frame) == G_TF_SIZE, "trap frame size");
_Static_assert(offsetof(struct g_trap_frame, rdi) == G_TF_RDI, "trap frame rdi");
_Static_assert(offsetof(struct g_trap_frame, rax) == G_TF_RAX, "trap frame rax");
_Static_assert(offsetof(struct g_trap_frame, vector) == G_TF_VECTOR, "trap frame vector");
_Static_assert(offsetof(struct g_trap_frame, rip) == G_TF_RIP, "trap frame rip");
_Static_assert(offsetof(struct g_trap_frame, rsp) == G_TF_RSP, "trap frame rsp");

/* What a user trap handler receives (in %rdi): the frame at the fault, and CR2. */
struct g_trap_record {
	struct g_trap_frame frame;
	uint64_t cr2;
};
_Static_assert(sizeof(struct g_trap_record) == G_TR_QWORDS * 8, "trap record size");
_Static_assert(offsetof(struct g_trap_record, cr2) == G_TR_CR2, "trap record cr2");

struct g_kcpu {
	uint64_t irq_seq;
	uint64_t trap_handler;
	uint64_t fatal;
	uint64_t reserved0[5];
	struct g_trap_record trap;
	uint8_t reserved1[G_KCPU_IRQ_COUNT - G_KCPU_TRAP - sizeof(struct g_trap_record)];
	uint64_t irq_count[256];
	uint8_t reserved2[G_KCPU_STACKS - G_KCPU_IRQ_COUNT - 256 * 8];
	uint8_t stacks[G_KCPU_SIZE - G_KCPU_STACKS]; /* IST1, IST2, then the RSP0 stack */
};
_Static_assert(offsetof(struct g_kcpu, irq_seq) == G_KCPU_IRQ_SEQ, "kcpu irq_seq");
_Static_assert(offsetof(struct g_kcpu, trap_handler) == G_KCPU_TRAP_HANDLER, "kcpu trap_handler");
_Static_assert(offsetof(struct g_kcpu, fatal) == G_KCPU_FATAL, "kcpu fatal");
_Static_assert(offsetof(struct g_kcpu, trap) == G_KCPU_TRAP, "kcpu trap");
_Static_assert(offsetof(struct g_kcpu, irq_count) == G_KCPU_IRQ_COUNT, "kcpu irq_count");
_Static_assert(sizeof(struct g_kcpu) == G_KCPU_SIZE, "kcpu size");

/* G_MAX_CPUS blocks, aligned to G_KCPU_SIZE (kernel/tables.S). */
extern struct g_kcpu g_kcpu[];

/* Ring 0 writes the LAPIC EOI register through this pointer (kernel/tables.S); the runtime
 * points it at the LAPIC the MP table names. */
extern volatile uint32_t *g_lapic_eoi;

/* Index of the CPU the next INIT-SIPI-SIPI starts; read by its ring-0 entry. */
extern volatile uint32_t g_ap_boot_cpu;

/* The real-mode AP entry, copied to G_TRAMPOLINE_ADDR before any AP is started. */
extern const char g_trampoline_start[], g_trampoline_end[];

/* Ring-0 report of a fatal exception (kernel/fault.c); called from the exception path. */
void g_kernel_fault(struct g_trap_frame *frame, uint64_t cr2) __attribute__((noreturn));

/* "#PF" and friends, for reports. */
const char *g_exception_name(uint64_t vector);

/* Writes code to the debug-exit port, then halts forever (CPL0 only). */
void g_kernel_halt(uint32_t code) __attribute__((noreturn));

#endif
