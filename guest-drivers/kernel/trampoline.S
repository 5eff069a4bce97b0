/* SPDX-License-Identifier: MIT */
/*
 * AP start-up: the runtime copies g_trampoline_start..g_trampoline_end to G_TRAMPOLINE_ADDR and
 * sends INIT-SIPI-SIPI with vector G_TRAMPOLINE_ADDR >> 12, so the AP starts here in real mode
 * with CS = G_TRAMPOLINE_ADDR >> 4, IP = 0. It loads the kernel GDT, enters 32-bit protected mode
 * and joins the BSP's long-mode switch (entry.S), which continues at g_ap_start64.
 *
 * The code runs at a different address than it was linked for, so every address is written
 * as an offset from g_trampoline_start.
 */
#include "kernel/layout.h"

#define TRAMP_REL(x) ((x) - g_trampoline_start)
#define TRAMP_ABS(x) (G_TRAMPOLINE_ADDR + TRAMP_REL(x))

	.section .rodata.trampoline, "a"
	.globl g_trampoline_start, g_trampoline_end
	.code16
g_trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl TRAMP_REL(tramp_gdtr)
	mov %cr0, %eax
	or $G_CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $G_KERNEL_CS32, $TRAMP_ABS(tramp32)

	.code32
tramp32:
	mov $G_KERNEL_DS, %eax	/* DS still has the real-mode base */
	mov %eax, %ds
	mov $g_ap_start64, %edi
	mov $g_long_mode_enter, %eax
	jmp *%eax	/* absolute: a relative jump would be off once the code is moved */

	.balign 8
tramp_gdtr:
	.word G_TSS_SEL0 + 16 * G_MAX_CPUS - 1
	.long g_gdt
g_trampoline_end:

	.section .note.GNU-stack, "", @progbits
