/* SPDX-License-Identifier: MIT */
/* struct g_jmp_buf: rbx, rbp, r12, r13, r14, r15, rsp, rip (lib/setjmp.h). */
	.text
	.globl g_setjmp, g_longjmp
g_setjmp:
	mov %rbx, 0(%rdi)
	mov %rbp, 8(%rdi)
	mov %r12, 16(%rdi)
	mov %r13, 24(%rdi)
	mov %r14, 32(%rdi)
	mov %r15, 40(%rdi)
	lea 8(%rsp), %rax	/* the caller's rsp after our return */
	mov %rax, 48(%rdi)
	mov (%rsp), %rax	/* our return address */
	mov %rax, 56(%rdi)
	xor %eax, %eax
	ret

g_longjmp:
	mov %esi, %eax
	test %eax, %eax
	jnz 1f
	inc %eax		/* setjmp must not appear to return 0 twice */
1:	mov 0(%rdi), %rbx
	mov 8(%rdi), %rbp
	mov 16(%rdi), %r12
	mov 24(%rdi), %r13
	mov 32(%rdi), %r14
	mov 40(%rdi), %r15
	mov 48(%rdi), %rsp
	jmp *56(%rdi)

	.section .note.GNU-stack, "", @progbits
