/* A minimal PVH image for the bad-input and exit-path tests. By default it prints "t" and
 * exits through debug-exit with 0; -DACTION=n picks another ending:
 *   1: reset through the i8042 (0xFE to port 0x64)
 *   2: reset through the PCI reset control register (0x06 to port 0xCF9)
 *   3: triple fault (an exception with no IDT, at 32-bit CPL0)
 *   4: debug-exit with 42
 *   5: debug-exit with 256 (more than an exit status holds)
 * The linker scripts beside it place it where a test needs it (or drop its PVH note). */
#ifndef ACTION
#define ACTION 0
#endif
	.section .note.Xen, "a"
	.align 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $'t', %al
	out %al, %dx
#if ACTION == 0
	mov $0xf4, %dx
	xor %eax, %eax
	out %eax, %dx
#elif ACTION == 1
	mov $0xfe, %al
	out %al, $0x64
#elif ACTION == 2
	mov $0xcf9, %dx
	mov $0x06, %al
	out %al, %dx
#elif ACTION == 3
	mov $0xdead0000, %ebx	/* marks the register dump */
	ud2
#elif ACTION == 4
	mov $0xf4, %dx
	mov $42, %eax
	out %eax, %dx
#elif ACTION == 5
	mov $0xf4, %dx
	mov $256, %eax
	out %eax, %dx
#endif
	mov $0xf4, %dx
	mov $0x55, %eax		/* reached only if the ending above did not end the VM */
	out %eax, %dx
1:	hlt
	jmp 1b
