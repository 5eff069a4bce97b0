/* SPDX-License-Identifier: MIT */
/*
 * Every ring-0 table, complete at assembly time so that ring 0 fills nothing in at boot:
 * page tables, GDT (with a TSS descriptor per CPU), the TSSs, the IDT, and the per-CPU blocks.
 * The IDT gates and TSS descriptors split addresses into bit fields, which the assembler can only
 * do for constants; that is why the stubs and the TSSs live at fixed addresses (layout.h).
 */
#include "kernel/layout.h"

#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_US  0x004 /* user-accessible: the runtime and the drivers run at CPL3 */
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080 /* 2 MiB page in a page directory */
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US)
#define PTE_2M (PTE_P | PTE_RW | PTE_US | PTE_PS)
#define PTE_4K (PTE_P | PTE_RW | PTE_US)
#define PTE_UC (PTE_PCD | PTE_PWT)

/*
 * Identity map of 0-4 GiB. The first 2 MiB uses 4 KiB pages so that page 0 can be left out and
 * a null dereference faults; the rest uses 2 MiB pages. 3-4 GiB holds the MMIO hole (LAPIC,
 * I/O APIC, PCI BARs) and is uncached. The first 2 MiB is mapped once more, page 0 included, at
 * G_LOWMEM_ALIAS: firmware leaves data there (the BIOS data area, QEMU's PVH memory map).
 * G_MMIO_WINDOW starts empty: device memory elsewhere is mapped there, uncached, on demand.
 */
	.data
	.balign 4096
	.globl g_pml4
g_pml4:
	.quad g_pdpt + PTE_TABLE
	.fill 511, 8, 0

	.balign 4096
g_pdpt:
	.quad g_pd + 0 * 4096 + PTE_TABLE
	.quad g_pd + 1 * 4096 + PTE_TABLE
	.quad g_pd + 2 * 4096 + PTE_TABLE
	.quad g_pd + 3 * 4096 + PTE_TABLE
	.fill 504, 8, 0
	.quad g_pd_mmio + PTE_TABLE	/* G_MMIO_WINDOW: entry 508 */
	.fill 2, 8, 0
	.quad g_pd_alias + PTE_TABLE	/* G_LOWMEM_ALIAS: entry 511 */
	.if G_MMIO_WINDOW != 508 << 30
	.error "G_MMIO_WINDOW does not match the page tables"
	.endif
	.if G_LOWMEM_ALIAS != 511 << 30
	.error "G_LOWMEM_ALIAS does not match the page tables"
	.endif

	.balign 4096
g_pd:
	.quad g_pt0 + PTE_TABLE
	.set addr, 0x200000
	.rept 3 * 512 - 1
	.quad addr + PTE_2M
	.set addr, addr + 0x200000
	.endr
	.rept 512
	.quad addr + PTE_2M + PTE_UC
	.set addr, addr + 0x200000
	.endr

	.balign 4096
g_pd_alias:
	.quad 0 + PTE_2M
	.fill 511, 8, 0

/* The device window: empty. Filling in an absent entry needs no TLB flush, so CPL3 can map a
 * BAR without a system call (runtime/mem.c). */
	.balign 4096
	.globl g_pd_mmio
g_pd_mmio:
	.fill 512, 8, 0

	.balign 4096
g_pt0:
	.quad 0			/* page 0: not present */
	.set addr, 0x1000
	.rept 511
	.quad addr + PTE_4K
	.set addr, addr + 0x1000
	.endr

/* GDT: see the selectors in layout.h. */
	.balign 16
	.globl g_gdt, g_gdtr
g_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* G_KERNEL_CS: 64-bit code, DPL0 */
	.quad 0x00cf92000000ffff	/* G_KERNEL_DS: 4 GiB data, DPL0 */
	.quad 0x00cf9a000000ffff	/* G_KERNEL_CS32: 4 GiB 32-bit code, DPL0 */
	.quad 0x00cff2000000ffff	/* G_USER_DS: 4 GiB data, DPL3 */
	.quad 0x00affa000000ffff	/* G_USER_CS: 64-bit code, DPL3 */
	.set cpu, 0
	.rept G_MAX_CPUS		/* available 64-bit TSS (type 9), present, DPL0 */
	.set base, G_TSS_BASE + cpu * G_TSS_STRIDE
	.set limit, G_TSS_IOMAP - cpu * G_TSS_STRIDE + 65536 / 8
	.quad (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89 << 40) | ((limit >> 16) << 48) | ((base >> 24) << 56)
	.quad 0
	.set cpu, cpu + 1
	.endr
g_gdt_end:
	.if g_gdt_end - g_gdt != G_TSS_SEL0 + 16 * G_MAX_CPUS
	.error "GDT size does not match layout.h"
	.endif

/* Loaded by lgdt in 32-bit mode (6 bytes used) and in the AP trampoline. */
	.balign 8
	.word 0
g_gdtr:
	.word g_gdt_end - g_gdt - 1
	.quad g_gdt

	.balign 8
	.word 0
	.globl g_idtr
g_idtr:
	.word 256 * 16 - 1
	.quad g_idt

/* The ring-0 EOI write goes through this pointer (kernel/kcpu.h). */
	.balign 8
	.globl g_lapic_eoi
g_lapic_eoi:
	.quad 0xfee000b0

/*
 * IDT: gate n jumps to stub n at G_STUB_BASE + n * G_STUB_SIZE (traps.S). All are interrupt
 * gates (IF cleared on entry). Only int3, the system call, may be raised from CPL3. NMI runs on
 * IST2, #DF and #MC on IST1, so that they get a good stack whatever state the CPU is in.
 */
	.section .rodata
	.balign 16
g_idt:
	.set vec, 0
	.rept 256
	.set off, G_STUB_BASE + vec * G_STUB_SIZE
	.if vec == 2
	.set ist, 2
	.elseif (vec == 8) || (vec == 18)
	.set ist, 1
	.else
	.set ist, 0
	.endif
	.if vec == G_VEC_SYSCALL
	.set attr, 0xee		/* present, DPL3, 64-bit interrupt gate */
	.else
	.set attr, 0x8e		/* present, DPL0, 64-bit interrupt gate */
	.endif
	.quad (off & 0xffff) | (G_KERNEL_CS << 16) | (ist << 32) | (attr << 40) | ((off >> 16) << 48)
	.quad 0
	.set vec, vec + 1
	.endr

/*
 * One 64-bit TSS per CPU at the fixed G_TSS_BASE: the ring-0 stacks, and an I/O permission bitmap
 * that allows every port, which is how CPL3 gets port I/O (IOPL stays 0; see layout.h). All TSSs
 * share the one bitmap that follows the array: each TSS's I/O map base is the distance to it, and
 * its limit ends on the bitmap's terminating 0xff byte.
 */
	.section .fixed.tss, "a"
	.globl g_tss
g_tss:
	.set cpu, 0
	.rept G_MAX_CPUS
	.org cpu * G_TSS_STRIDE
	.long 0
	.quad g_kcpu + cpu * G_KCPU_SIZE + G_KCPU_RSP0_TOP	/* rsp0 */
	.quad 0, 0						/* rsp1, rsp2 */
	.quad 0
	.quad g_kcpu + cpu * G_KCPU_SIZE + G_KCPU_IST1_TOP	/* ist1 */
	.quad g_kcpu + cpu * G_KCPU_SIZE + G_KCPU_IST2_TOP	/* ist2 */
	.quad 0, 0, 0, 0, 0		/* ist3-7 */
	.quad 0
	.word 0
	.word G_TSS_IOMAP - cpu * G_TSS_STRIDE		/* I/O map base */
	.set cpu, cpu + 1
	.endr
	.org G_TSS_IOMAP
g_tss_iomap:
	.fill 65536 / 8, 1, 0		/* 0: port allowed */
	.byte 0xff			/* the CPU may read a byte past the map */

/* Per-CPU ring-0 blocks and user stacks (kernel/kcpu.h, runtime/cpu.h); zeroed by the loader. */
	.bss
	.balign G_KCPU_SIZE
	.globl g_kcpu
g_kcpu:
	.skip G_KCPU_SIZE * G_MAX_CPUS
	.balign G_USTACK_SIZE
	.globl g_ustack
g_ustack:
	.skip G_USTACK_SIZE * G_MAX_CPUS

	.section .note.GNU-stack, "", @progbits
