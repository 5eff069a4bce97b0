/* SPDX-License-Identifier: MIT */
/*
 * Ring-0 interrupt, exception and system-call paths. Each is a handful of instructions because
 * vmmon emulates CPL0 code; anything with a loop or a decision that can wait is left to CPL3.
 *
 *  - interrupts: count per CPU and vector, bump the CPU's irq_seq, EOI the LAPIC, iretq;
 *  - exceptions at CPL3 with a trap handler registered: copy the frame to the CPU's trap record
 *    and "return" into the handler at CPL3 (like a signal); otherwise a ring-0 report in C;
 *  - int3 (layout.h says why not int $0x80): SYS_EXIT, SYS_WAIT, SYS_SET_TRAP.
 *
 * The per-CPU block is found as rsp & -G_KCPU_SIZE: every ring-0 stack of a CPU lies in it.
 */
#include "guest_abi.h"
#include "kernel/layout.h"

#define ENOSYS 38

/* Exceptions that push an error code. */
#define HAS_ERROR(v) ((v == 8) || (v == 10) || (v == 11) || (v == 12) || (v == 13) || \
		      (v == 14) || (v == 17) || (v == 21) || (v == 29) || (v == 30))
/* The LAPIC spurious vector sets no ISR bit, so it must not be EOIed. */
#define NO_EOI(v) (v == G_VEC_SPURIOUS)

/* Stub n at G_STUB_BASE + n * G_STUB_SIZE; .org fails the build if a stub outgrows its slot. */
	.section .fixed.stubs, "ax"
	.code64
	.globl g_idt_stubs
g_idt_stubs:
	.set vec, 0
	.rept 256
	.org vec * G_STUB_SIZE, 0xcc
	.if vec == G_VEC_SYSCALL
	jmp sys_entry
	.elseif vec == 2
	pushq $vec		/* NMI: counted like an interrupt, never EOIed */
	jmp irq_noeoi
	.elseif vec < 32
	.if !HAS_ERROR(vec)
	pushq $0
	.endif
	pushq $vec
	jmp exc_entry
	.elseif NO_EOI(vec)
	pushq $vec
	jmp irq_noeoi
	.else
	pushq $vec
	jmp irq_eoi
	.endif
	.set vec, vec + 1
	.endr
	.org 256 * G_STUB_SIZE, 0xcc

	.text
/* Interrupts. Stack: vector, then the CPU's frame. The EOI comes first: with IF clear nothing
 * can be delivered before the iretq anyway. */
irq_eoi:
	push %rax
	mov g_lapic_eoi(%rip), %rax
	movl $0, (%rax)
	pop %rax
irq_noeoi:
	/* Interrupted between SYS_WAIT's sti and hlt: resume after the hlt, or the CPU would sleep
	 * although its wake-up has just been handled. On hardware the sti shadow closes this
	 * window; vmmon's host (PVM) documents that it ignores the shadow. */
	cmpq $sys_wait_hlt, 8(%rsp)
	jne 1f
	incq 8(%rsp)
1:	push %rax
	push %rcx
	mov %rsp, %rax
	and $-G_KCPU_SIZE, %rax
	movzbl 16(%rsp), %ecx
	incq G_KCPU_IRQ_COUNT(%rax, %rcx, 8)
	incq G_KCPU_IRQ_SEQ(%rax)
	pop %rcx
	pop %rax
	add $8, %rsp
	iretq

/*
 * Exceptions. Stack: vector, error code (0 if the CPU pushes none), the CPU's frame. Build a
 * struct g_trap_frame; CR2 is read before anything else can fault.
 */
exc_entry:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %cr2, %rax
	mov %rsp, %rbx
	and $-G_KCPU_SIZE, %rbx
	testb $3, G_TF_CS(%rsp)
	jz fatal			/* fault in ring 0 */
	cmpq $8, G_TF_VECTOR(%rsp)
	je fatal			/* #DF, #MC: the machine state is not trustworthy */
	cmpq $18, G_TF_VECTOR(%rsp)
	je fatal
	mov G_KCPU_TRAP_HANDLER(%rbx), %rdx
	test %rdx, %rdx
	jz fatal			/* nobody at CPL3 wants it */

	/* Deliver to the user handler: one-shot, so a fault inside the handler is fatal rather
	 * than a loop. The record lives in the per-CPU block, which user code can read. */
	movq $0, G_KCPU_TRAP_HANDLER(%rbx)
	lea G_KCPU_TRAP(%rbx), %rdi
	mov %rsp, %rsi
	mov $G_TF_SIZE / 8, %ecx
	rep movsq
	mov %rax, G_KCPU_TRAP + G_TR_CR2(%rbx)
	lea G_KCPU_TRAP(%rbx), %rdi
	mov %rdi, G_TF_RDI(%rsp)	/* handler(struct g_trap_record *) */
	mov %rdx, G_TF_RIP(%rsp)
	mov G_TF_RSP(%rsp), %rax	/* run below the faulting stack, as if called */
	sub $G_TRAP_STACK_GAP, %rax
	and $-16, %rax
	sub $8, %rax
	mov %rax, G_TF_RSP(%rsp)
	movq $G_USER_RFLAGS, G_TF_RFLAGS(%rsp)	/* drops TF, DF, AC and friends */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

fatal:
	mov %rsp, %rdi
	mov %rax, %rsi
	call g_kernel_fault		/* does not return; %rsp is 16-byte aligned here */
	ud2

/* System calls: number in %rax, arguments in %rdi, %rsi; result in %rax. */
sys_entry:
	cmp $G_SYS_WAIT, %rax
	je sys_wait
	cmp $G_SYS_SET_TRAP, %rax
	je sys_set_trap
	cmp $G_SYS_EXIT, %rax
	je sys_exit
	mov $-ENOSYS, %rax
	iretq

/* Halt until an interrupt unless one came since the caller read irq_seq (%rdi). IF is clear
 * from the gate until the sti; an interrupt taken between the sti and the hlt skips the hlt
 * (irq_noeoi), so none is slept through: no lost wake-up. */
sys_wait:
	mov %rsp, %rax
	and $-G_KCPU_SIZE, %rax
	cmp %rdi, G_KCPU_IRQ_SEQ(%rax)
	jne 1f
	sti
sys_wait_hlt:
	hlt
	cli
1:	mov G_KCPU_IRQ_SEQ(%rax), %rax
	iretq

sys_set_trap:
	mov %rsp, %rax
	and $-G_KCPU_SIZE, %rax
	mov %rdi, G_KCPU_TRAP_HANDLER(%rax)
	xor %eax, %eax
	iretq

sys_exit:
	/* fall through to g_kernel_halt with the code in %edi */

/* void g_kernel_halt(uint32_t code): under vmmon or QEMU the port write ends the VM; on real
 * hardware (no debug-exit port) stop here for good. */
	.globl g_kernel_halt
g_kernel_halt:
	mov %edi, %eax
	mov $GUEST_DEBUG_EXIT_PORT, %edx
	outl %eax, %dx
2:	cli
	hlt
	jmp 2b

	.section .note.GNU-stack, "", @progbits
