/* SPDX-License-Identifier: MIT */
/*
 * From the PVH entry (32-bit protected mode, paging off) to the first user-mode instruction, for
 * the BSP and, through the trampoline, for every AP. Everything here runs at CPL0, which vmmon
 * emulates at ~2 M instructions/s, so it is straight-line code: the page tables, GDT, TSSs and
 * IDT are already complete in the image (tables.S) and all other set-up happens at CPL3.
 */
#include "kernel/layout.h"

/*
 * The PVH note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (include/pvh.h), a 4-byte descriptor
 * holding the 32-bit physical entry. QEMU 7.2 reads the descriptor of a 64-bit ELF as 8 bytes,
 * so linker.ld follows this section with 4 zero bytes that are outside the note itself.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen" and its NUL */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long g_pvh_entry

	.text
	.code32

/* PVH entry: %ebx = physical address of struct hvm_start_info; CS/DS/ES/SS flat; GDTR
 * undefined, so no segment register is touched before our own GDT is loaded. */
	.globl g_pvh_entry
g_pvh_entry:
	cli
	cld
	mov %ebx, g_boot_start_info
	mov $bsp_start64, %edi

/*
 * Shared by the BSP and the APs: enter long mode and jump to the 64-bit address in %edi. Uses
 * no stack. An AP arrives here from the trampoline with CR0 as INIT left it (CD and NW set), so
 * caching is switched on here too.
 */
	.globl g_long_mode_enter
g_long_mode_enter:
	lgdt g_gdtr
	mov $G_KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %cr4, %eax
	or $G_CR4_PAE, %eax
	mov %eax, %cr4
	mov $g_pml4, %eax
	mov %eax, %cr3
	mov $G_MSR_EFER, %ecx
	rdmsr
	or $G_EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	and $~(G_CR0_CD | G_CR0_NW), %eax
	or $(G_CR0_PG | G_CR0_PE), %eax
	mov %eax, %cr0
	ljmp $G_KERNEL_CS, $1f

	.code64
1:	mov %edi, %edi		/* the upper halves are undefined after the mode switch */
	jmp *%rdi

bsp_start64:
	/* User mode runs with IF set from its first instruction (layout.h), and the firmware may
	 * have left the 8259s unmasked with their vectors on top of the exceptions. */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	xor %edi, %edi				/* CPU 0 */
	mov g_boot_start_info(%rip), %esi	/* the user entry's second argument */
	mov $g_user_bsp_entry, %edx
	jmp enter_user

	.globl g_ap_start64
g_ap_start64:
	mov g_ap_boot_cpu(%rip), %edi		/* set by the BSP before INIT-SIPI-SIPI */
	mov %edi, %esi
	mov $g_user_ap_entry, %edx

/*
 * Per-CPU ring-0 state, then user mode: %edi = CPU index, %rsi = argument for the user entry,
 * %rdx = user entry. The entry is called as f(cpu, arg) on this CPU's user stack, with a zero
 * return address below it (a return faults at address 0), interrupts enabled.
 */
enter_user:
	mov %rdi, %rax
	shl $G_KCPU_SHIFT, %rax
	lea g_kcpu + G_KCPU_RSP0_TOP(%rax), %rsp
	lidt g_idtr(%rip)
	mov %edi, %eax
	shl $4, %eax
	add $G_TSS_SEL0, %eax
	ltr %ax
	mov %rdi, %rcx
	shl $G_USTACK_SHIFT, %rcx
	lea g_ustack + G_USTACK_SIZE - 8(%rcx), %rcx
	pushq $G_USER_DS
	push %rcx
	pushq $G_USER_RFLAGS
	pushq $G_USER_CS
	push %rdx
	iretq

	.data
	.balign 4
g_boot_start_info:
	.long 0
	.globl g_ap_boot_cpu
g_ap_boot_cpu:
	.long 0

	.section .note.GNU-stack, "", @progbits
