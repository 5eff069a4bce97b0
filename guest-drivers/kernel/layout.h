/* SPDX-License-Identifier: MIT */
/*
 * Fixed layout of the guest kernel, shared by the assembly, the C code and (by hand, checked with
 * ASSERT) linker.ld. Only #defines here: the file is included from .S files.
 *
 * The ring-0 tables (page tables, GDT with one TSS per CPU, IDT) are all built by the assembler
 * into the image, so ring 0 runs no setup loop: under vmmon ring-0 code is emulated at ~2 M
 * instructions/s. To make the IDT and the TSS descriptors assembler constants, the interrupt stubs
 * and the TSS array sit at fixed addresses at the start of the image.
 */
#ifndef G_KERNEL_LAYOUT_H
#define G_KERNEL_LAYOUT_H

#define G_IMAGE_BASE 0x100000 /* PVH loads us here, physical == virtual */

/* 256 IDT entry stubs of G_STUB_SIZE bytes each, then the TSS array (linker.ld checks both). */
#define G_STUB_BASE  G_IMAGE_BASE
#define G_STUB_SIZE  16
#define G_TSS_BASE   (G_IMAGE_BASE + 0x1000)
#define G_TSS_STRIDE 128			 /* a 64-bit TSS is 104 bytes */
#define G_TSS_IOMAP  (G_MAX_CPUS * G_TSS_STRIDE) /* shared I/O bitmap, from G_TSS_BASE */

#define G_MAX_CPUS   32

/* GDT selectors. */
#define G_KERNEL_CS   0x08 /* 64-bit code, DPL0 */
#define G_KERNEL_DS   0x10 /* flat data, DPL0 */
#define G_KERNEL_CS32 0x18 /* 32-bit code for the boot path and the AP trampoline */
#define G_USER_DS     0x23 /* flat data, DPL3 (RPL3) */
#define G_USER_CS     0x2b /* 64-bit code, DPL3 (RPL3) */
#define G_TSS_SEL0    0x30 /* CPU n uses G_TSS_SEL0 + 16 * n */

/*
 * User mode always runs with interrupts enabled and IOPL 0; port I/O at CPL3 is granted by the
 * TSS I/O bitmap instead. This is what works on vmmon's host: its KVM (PVM) runs CPL3 natively
 * with the real IF forced on and IOPL forced to 0, emulates port I/O from CPL3 after checking the
 * guest's TSS I/O bitmap, and rejects cli/sti there. Real hardware and QEMU honour the bitmap the
 * same way, so the guest behaves alike everywhere. The entry path masks the 8259s before the
 * first CPL3 instruction, since the firmware may leave them unmasked.
 */
#define G_USER_RFLAGS 0x202 /* IF and the reserved bit 1 */

/* Interrupt vectors. */
#define G_VEC_TIMER	  0x30 /* LAPIC timer */
#define G_VEC_IPI	  0x31 /* reserved for inter-processor calls */
#define G_VEC_IOAPIC_BASE 0x40 /* I/O APIC pin n uses vector 0x40 + n */
#define G_VEC_IOAPIC_LAST 0x7f
#define G_VEC_DYN_BASE	  0x80 /* 0x80-0xef: MSI-X vectors, from g_platform_alloc_vector */
#define G_VEC_DYN_LAST	  0xef
/* The system-call instruction is int3 (vector 3, the only DPL3 gate): on vmmon's host (PVM) an
 * "int $n" from CPL3 is not delivered (the guest gets #UD), while int3 arrives as #BP. */
#define G_VEC_SYSCALL	  3
#define G_VEC_LAPIC_ERROR 0xfe
#define G_VEC_SPURIOUS	  0xff /* LAPIC spurious: counted, never EOIed */

/* System calls (int3): number in %rax, arguments in %rdi, %rsi; result in %rax; nothing else
 * is clobbered. */
#define G_SYS_EXIT     0 /* (code): write code to the debug-exit port, then halt forever */
#define G_SYS_WAIT     1 /* (seen): if irq_seq == seen, halt; returns the current irq_seq */
#define G_SYS_SET_TRAP 2 /* (handler): this CPU's one-shot user trap handler, 0 = none */

/* Exit codes written to the debug-exit port. */
#define G_EXIT_PASS  0
#define G_EXIT_FAIL  1
#define G_EXIT_FAULT 3 /* unhandled exception (vmmon itself uses 2 for a crash) */

/*
 * Per-CPU ring-0 block: G_KCPU_SIZE bytes, aligned to its size, so that ring 0 finds it from any
 * of its stacks with "rsp & -G_KCPU_SIZE". It is mapped user-accessible: the runtime reads the
 * interrupt counters directly.
 */
#define G_KCPU_SHIFT	    15
#define G_KCPU_SIZE	    (1 << G_KCPU_SHIFT)
#define G_KCPU_IRQ_SEQ	    0x00	/* u64: bumped by every interrupt */
#define G_KCPU_TRAP_HANDLER 0x08	/* u64: user RIP for exceptions at CPL3, 0 = none */
#define G_KCPU_FATAL	    0x10	/* u64: set while ring 0 reports a fatal fault */
#define G_KCPU_TRAP	    0x40	/* struct g_trap_record: the last delivered user trap */
#define G_KCPU_IRQ_COUNT    0x100	/* u64[256]: interrupts taken, per vector */
#define G_KCPU_STACKS	    0x1000	/* the stacks below start here */
#define G_KCPU_IST1_TOP	    0x2000	/* #DF, #MC: 0x1000-0x2000 */
#define G_KCPU_IST2_TOP	    0x3000	/* NMI: 0x2000-0x3000 */
#define G_KCPU_RSP0_TOP	    G_KCPU_SIZE /* everything else: 0x3000-0x8000 */

/* struct g_trap_frame, as built on the kernel stack by the exception path (offsets in bytes). */
#define G_TF_R15    0
#define G_TF_RDI    (9 * 8)
#define G_TF_RAX    (14 * 8)
#define G_TF_VECTOR (15 * 8)
#define G_TF_ERROR  (16 * 8)
#define G_TF_RIP    (17 * 8)
#define G_TF_CS	    (18 * 8)
#define G_TF_RFLAGS (19 * 8)
#define G_TF_RSP    (20 * 8)
#define G_TF_SS	    (21 * 8)
#define G_TF_SIZE   (22 * 8)
#define G_TR_CR2    G_TF_SIZE /* struct g_trap_record = frame + cr2 */
#define G_TR_QWORDS 23

/* A user trap handler runs on the faulting stack, this far below the faulting RSP. */
#define G_TRAP_STACK_GAP 256

/* Per-CPU user stack: G_USTACK_SIZE bytes, aligned to its size, with struct g_cpu at its
 * bottom, so user code finds its CPU with "rsp & -G_USTACK_SIZE". */
#define G_USTACK_SHIFT 15
#define G_USTACK_SIZE  (1 << G_USTACK_SHIFT)

/* Physical 0 - 2 MiB mapped a second time, page 0 included (the identity map leaves page 0 out
 * so that null dereferences fault). Low firmware data is read through g_phys_ptr() (lib/phys.h). */
#define G_LOWMEM_ALIAS	    0x7fc0000000
#define G_LOWMEM_ALIAS_SIZE 0x200000

/* A window of 2 MiB uncached pages for device memory (PCI BARs) outside the uncached identity
 * map of 3-4 GiB: BARs above 4 GiB, or below 3 GiB where the identity map caches. The page
 * directory is in tables.S with every entry absent; CPL3 fills entries in (runtime/mem.c). */
#define G_MMIO_WINDOW	   0x7f00000000
#define G_MMIO_WINDOW_SIZE 0x40000000

/* The AP start-up trampoline is copied here (SIPI vector G_TRAMPOLINE_ADDR >> 12). */
#define G_TRAMPOLINE_ADDR 0x8000

/* Control registers and MSRs used by the boot path. */
#define G_CR0_PE   0x00000001
#define G_CR0_NW   0x20000000
#define G_CR0_CD   0x40000000
#define G_CR0_PG   0x80000000
#define G_CR4_PAE  0x00000020
#define G_MSR_EFER 0xc0000080
#define G_EFER_LME 0x00000100

#endif
