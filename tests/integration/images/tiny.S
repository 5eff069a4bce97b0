/* A minimal PVH image for the bad-input tests: prints "tiny" and exits through debug-exit.
 * The linker scripts beside it place it where a test needs it (or drop its PVH note). */
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
	mov $0xf4, %dx
	xor %eax, %eax
	out %eax, %dx
1:	hlt
	jmp 1b
