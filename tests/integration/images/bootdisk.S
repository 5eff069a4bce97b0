/* The first sectors of the test disk firmware.py boots through SeaBIOS: a 512-byte boot sector
 * and a second stage it loads, both real-mode code that uses the BIOS only (INT 10h teletype
 * output, which SeaBIOS's serial console sends to COM1; INT 13h disk services), ending through
 * the debug-exit port 0xF4 (0: pass, 1: fail).
 *
 * Disk layout (512-byte sectors, written by the host):
 *   LBA 0          this boot sector (with its 0x55AA signature, unless the test removes it)
 *   LBA 1-8        the second stage, read by the boot sector with AH=02 (CHS 0/0/2)
 *   LBA 16         the host's control block: "VMMB", then the mode (dword): 0 the I/O test,
 *                  1 the reset chain, 2 pass at once (bench/firmware_boot.py: boot time)
 *   LBA 17         the reset chain's boot counter (dword), kept by the guest with AH=43
 *   LBA 64...      the host's pattern: dword i of sector L holds (L * 128 + i) ^ 0x5A000000
 *   LBA 4096...    where the guest writes dword i of sector L as (L * 128 + i) ^ 0xC3000000
 *
 * The I/O test: AH=41 (EDD present), AH=48 (the sector count), AH=08 (the geometry), then
 * sectors 64-575 with AH=02 in CHS chunks of odd sizes and sectors 576-2623 (1 MiB) with AH=42
 * in EDD chunks of up to 127 sectors, every dword checked; then AH=43 writes 9 sectors at 4096
 * and 1 at 4200, AH=42 reads them back, and the host checks them in the file.
 * The reset chain: each boot counts itself in LBA 17 and resets the machine a different way:
 * port 0xCF9, the i8042, port 0x92, a triple fault; the fifth boot passes. */

#define STAGE2_SECTORS	8
#define CTRL_LBA	16
#define COUNT_LBA	17
#define DATA_LBA	64
#define CHS_SECTORS	512
#define EDD_SECTORS	2048
#define WRITE_LBA	4096
#define WRITE_COUNT	9
#define WRITE2_LBA	4200
#define PATTERN_KEY	0x5a000000
#define WRITE_KEY	0xc3000000
#define BUF_SEG		0x1000 /* a 64 KiB buffer at 0x10000 */

	.code16
	.section .boot, "ax"
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	ljmp $0, $1f		/* CS:IP as 0000:7Cxx, whatever the BIOS jumped with */
1:	sti
	cld
	mov %dl, drive
	mov $msg_hello, %si
	call puts
	mov drive, %al
	call hex8
	call newline
	/* The second stage, by CHS: cylinder 0, head 0, sectors 2-9, to 0000:7E00. */
	mov $(0x0200 | STAGE2_SECTORS), %ax
	mov $0x0002, %cx
	xor %dh, %dh
	mov drive, %dl
	mov $stage2, %bx
	int $0x13
	jc 2f
	jmp stage2
2:	mov $msg_load, %si
	jmp fail

/* Prints the NUL-terminated string at %si through INT 10h AH=0Eh. */
puts:
	pusha
1:	lodsb
	test %al, %al
	jz 2f
	mov $0x0e, %ah
	mov $0x0007, %bx
	int $0x10
	jmp 1b
2:	popa
	ret

newline:
	push %si
	mov $msg_crlf, %si
	call puts
	pop %si
	ret

/* %al as two hex digits. */
hex8:
	pusha
	mov %al, %cl
	shr $4, %al
	call 1f
	mov %cl, %al
	call 1f
	popa
	ret
1:	and $0x0f, %al
	add $'0', %al
	cmp $'9', %al
	jbe 2f
	add $('a' - '9' - 1), %al
2:	mov $0x0e, %ah
	mov $0x0007, %bx
	int $0x10
	ret

/* Prints "boot: FAIL " and the string at %si, then leaves with status 1. */
fail:
	push %si
	mov $msg_fail, %si
	call puts
	pop %si
	call puts
fail_end:
	call newline
	mov $1, %eax
/* Leaves through the debug-exit port with %eax. */
exit:
	call flush
	mov $0xf4, %dx
	out %eax, %dx
1:	hlt
	jmp 1b

/* SeaBIOS's serial console holds back the last character written until more comes or the
 * screen scrolls: AH=06 on an empty window sends it (and the line end after it), drawing
 * nothing. */
flush:
	pushal
	mov $0x0600, %ax
	xor %cx, %cx
	xor %dx, %dx
	mov $0x07, %bh
	int $0x10
	popal
	ret

drive:		.byte 0
msg_hello:	.asciz "boot: boot sector running from drive "
msg_load:	.asciz "AH=02 could not load the second stage"
msg_fail:	.asciz "boot: FAIL "
msg_crlf:	.asciz "\r\n"

	.org 510
	.word 0xaa55

/* ------------------------------------------------------------------------------------------ */
	.section .stage2, "ax"
stage2:
	mov $msg_stage2, %si
	call puts
	call newline
	mov $CTRL_LBA, %eax
	mov $1, %cx
	call read_edd
	push %ds
	mov $BUF_SEG, %ax
	mov %ax, %ds
	mov 0, %eax
	mov 4, %ebx
	pop %ds
	cmp $0x424d4d56, %eax	/* "VMMB" */
	mov $msg_ctrl, %si
	jne fail
	cmp $2, %ebx
	je pass
	push %ebx
	call edd_probe
	call geometry
	pop %ebx
	cmp $1, %ebx
	je reset_chain
	call chs_reads
	call edd_reads
	call writes
pass:
	mov $msg_pass, %si
	call puts
	call newline
	xor %eax, %eax
	jmp exit

/* AH=41: EDD installed, with the packet interface; AH=48: the sector count. */
edd_probe:
	mov $0x41, %ah
	mov $0x55aa, %bx
	mov drive, %dl
	int $0x13
	mov $msg_edd41, %si
	jc fail
	cmp $0xaa55, %bx
	jne fail
	test $1, %cx
	jz fail
	mov $msg_edd, %si
	call puts
	mov %ah, %al
	call hex8
	movw $0x1a, params	/* the buffer holds EDD 1.1's 26 bytes */
	mov $0x48, %ah
	mov drive, %dl
	mov $params, %si
	int $0x13
	mov $msg_edd48, %si
	jc fail
	mov $msg_sectors, %si
	call puts
	mov params + 20, %eax	/* sector count, high half */
	call hex32
	mov params + 16, %eax
	call hex32
	call newline
	ret

/* AH=08: the geometry INT 13h translates CHS with, kept for chs_reads. */
geometry:
	mov $0x08, %ah
	mov drive, %dl
	xor %di, %di
	int $0x13
	mov $msg_geom08, %si
	jc fail
	movzbl %dh, %eax
	inc %eax
	mov %eax, heads
	movzbl %cl, %eax
	and $0x3f, %al
	mov %eax, spt
	movzbl %ch, %eax
	movzbl %cl, %ebx
	shl $2, %ebx
	and $0x300, %ebx
	or %ebx, %eax
	inc %eax
	mov %eax, cyls
	mov $msg_chs, %si
	call puts
	mov cyls, %eax
	call hex16
	mov $'/', %al
	call putc
	mov heads, %al
	call hex8
	mov $'/', %al
	call putc
	mov spt, %al
	call hex8
	call newline
	ret

/* Sectors DATA_LBA on by AH=02, in the chunk sizes of chs_chunks, each checked. */
chs_reads:
	mov $DATA_LBA, %eax
	mov $chs_chunks, %bp
1:	mov (%bp), %cx
	test %cx, %cx
	jz 2f
	push %eax
	call read_chs
	pop %eax
	mov $PATTERN_KEY, %ebx
	call verify
	movzwl %cx, %ecx
	add %ecx, %eax
	add $2, %bp
	jmp 1b
2:	mov $msg_chs_ok, %si
	call puts
	sub $DATA_LBA, %eax
	call hex16
	call newline
	ret

/* Sectors DATA_LBA + CHS_SECTORS on by AH=42, in the sizes of edd_chunks, each checked. */
edd_reads:
	mov $(DATA_LBA + CHS_SECTORS), %eax
	mov $edd_chunks, %bp
1:	mov (%bp), %cx
	test %cx, %cx
	jz 2f
	call read_edd
	mov $PATTERN_KEY, %ebx
	call verify
	movzwl %cx, %ecx
	add %ecx, %eax
	add $2, %bp
	jmp 1b
2:	mov $msg_edd_ok, %si
	call puts
	sub $(DATA_LBA + CHS_SECTORS), %eax
	call hex16
	call newline
	ret

/* AH=43 writes WRITE_COUNT sectors at WRITE_LBA and one at WRITE2_LBA, AH=42 reads them back. */
writes:
	mov $WRITE_LBA, %eax
	mov $WRITE_COUNT, %cx
	call write_back
	mov $WRITE2_LBA, %eax
	mov $1, %cx
	call write_back
	mov $msg_write_ok, %si
	call puts
	mov $(WRITE_COUNT + 1), %al
	call hex8
	call newline
	ret

write_back:
	mov $WRITE_KEY, %ebx
	call fill
	mov $0x43, %dl
	call edd_io
	call clear
	call read_edd
	call verify
	ret

/* Fills %cx sectors of the buffer with the pattern of LBA %eax under key %ebx. */
fill:
	pushal
	push %es
	mov $BUF_SEG, %dx
	mov %dx, %es
	xor %di, %di
	shl $7, %eax
	movzwl %cx, %ecx
	shl $7, %ecx
1:	mov %eax, %edx
	xor %ebx, %edx
	mov %edx, %es:(%di)
	inc %eax
	add $4, %di
	dec %ecx
	jnz 1b
	pop %es
	popal
	ret

/* Zeroes the whole buffer, so a read that does nothing shows. */
clear:
	pushal
	push %es
	mov $BUF_SEG, %dx
	mov %dx, %es
	xor %di, %di
	xor %eax, %eax
	mov $0x4000, %ecx
	rep stosl
	pop %es
	popal
	ret

/* Checks %cx sectors of the buffer against the pattern of LBA %eax under key %ebx. */
verify:
	pushal
	push %es
	mov $BUF_SEG, %dx
	mov %dx, %es
	xor %di, %di
	mov %eax, last_lba
	shl $7, %eax
	movzwl %cx, %ecx
	shl $7, %ecx
1:	mov %eax, %edx
	xor %ebx, %edx
	cmp %es:(%di), %edx
	jne 2f
	inc %eax
	add $4, %di
	dec %ecx
	jnz 1b
	pop %es
	popal
	ret
2:	mov $msg_fail, %si
	call puts
	mov $msg_verify, %si
	call puts
	mov last_lba, %eax
	call hex32
	mov $msg_at, %si
	call puts
	mov %di, %ax
	call hex16
	jmp fail_end

/* AH=02: %cx sectors from LBA %eax into the buffer, through the geometry of AH=08. */
read_chs:
	pushal
	push %es
	mov %eax, last_lba
	mov %cx, %si		/* the count */
	xor %edx, %edx
	divl spt
	inc %dl
	mov %dl, %cl		/* sector, 1-based */
	xor %edx, %edx
	divl heads
	mov %dl, %dh		/* head */
	mov %al, %ch		/* cylinder bits 7-0 */
	shl $6, %ah
	or %ah, %cl		/* cylinder bits 9-8 in bits 7-6 */
	mov %si, %ax
	mov $0x02, %ah
	mov drive, %dl
	mov $BUF_SEG, %bx
	mov %bx, %es
	xor %bx, %bx
	int $0x13
	jc 1f
	pop %es
	popal
	ret
1:	mov $msg_chs_err, %si
	jmp io_fail

/* AH=42: %cx sectors from LBA %eax into the buffer. */
read_edd:
	push %dx
	mov $0x42, %dl
	call edd_io
	pop %dx
	ret

/* AH=%dl (42 or 43) on %cx sectors at LBA %eax through the buffer, with a disk address packet. */
edd_io:
	pushal
	mov %eax, last_lba
	movw $0x10, dap
	mov %cx, dap + 2
	movw $0, dap + 4
	movw $BUF_SEG, dap + 6
	mov %eax, dap + 8
	movl $0, dap + 12
	mov %dl, %ah
	xor %al, %al		/* AH=43: no verify */
	mov drive, %dl
	mov $dap, %si
	int $0x13
	jc 1f
	popal
	ret
1:	mov $msg_edd_err, %si
/* "boot: FAIL <operation %si> status <%ah> at LBA <last_lba>", then leaves with 1. */
io_fail:
	push %si
	mov $msg_fail, %si
	call puts
	pop %si
	call puts
	mov %ah, %al
	call hex8
	mov $msg_lba, %si
	call puts
	mov last_lba, %eax
	call hex32
	jmp fail_end

/* The reset chain: count this boot in LBA 17, then reset by the way that comes next. */
reset_chain:
	mov $COUNT_LBA, %eax
	mov $1, %cx
	call read_edd
	push %ds
	mov $BUF_SEG, %bx
	mov %bx, %ds
	incl 0
	mov 0, %ebx
	pop %ds
	mov $0x43, %dl
	call edd_io
	mov $msg_chain, %si
	call puts
	mov %bl, %al
	call hex8
	call newline
	call flush
	cmp $1, %bl
	je 1f
	cmp $2, %bl
	je 2f
	cmp $3, %bl
	je 3f
	cmp $4, %bl
	je 4f
	mov $msg_pass, %si
	call puts
	call newline
	xor %eax, %eax
	jmp exit
1:	mov $0xcf9, %dx		/* reset control: SYS_RST, then RST_CPU */
	mov $0x02, %al
	out %al, %dx
	mov $0x06, %al
	out %al, %dx
	jmp 5f
2:	mov $0xfe, %al		/* the i8042 pulses the reset line */
	out %al, $0x64
	jmp 5f
3:	in $0x92, %al		/* fast reset: bit 0 from 0 to 1 */
	and $0xfe, %al
	out %al, $0x92
	or $0x01, %al
	out %al, $0x92
	jmp 5f
4:	cli			/* protected mode with no IDT: the first exception is a triple */
	lgdt gdt_desc		/* fault (real mode would not do: KVM's emulation of real-mode */
	lidt null_idt		/* interrupts here ignores the IDT's limit) */
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $0x08, $pm32
5:	mov $msg_noreset, %si
	jmp fail
	.code32
pm32:	ud2
	.code16

/* %eax, %ax as hex; %al as a character. */
hex32:
	ror $16, %eax
	call hex16
	ror $16, %eax
hex16:
	xchg %al, %ah
	call hex8
	xchg %al, %ah
	jmp hex8
putc:
	pusha
	mov $0x0e, %ah
	mov $0x0007, %bx
	int $0x10
	popa
	ret

	.align 4
last_lba:	.long 0
heads:		.long 0
spt:		.long 0
cyls:		.long 0
null_idt:	.word 0
		.long 0
gdt:		.quad 0
		.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
gdt_desc:	.word 15
		.long gdt
dap:		.fill 16
params:		.fill 32
/* Chunk sizes in sectors; each list ends with 0 and adds up to CHS_SECTORS, EDD_SECTORS. */
chs_chunks:	.word 1, 63, 37, 126, 2, 90, 13, 127, 53, 0
edd_chunks:	.word 127, 1, 64, 3, 100, 7, 127, 33, 127, 127, 5, 127, 91, 127, 127, 17
		.word 127, 19, 127, 127, 127, 127, 127, 57, 0
msg_stage2:	.asciz "boot: second stage loaded by AH=02"
msg_edd41:	.asciz "AH=41: no EDD with packets"
msg_edd48:	.asciz "AH=48 failed"
msg_geom08:	.asciz "AH=08 failed"
msg_edd:	.asciz "boot: edd "
msg_sectors:	.asciz ", sectors "
msg_chs:	.asciz "boot: chs "
msg_ctrl:	.asciz "no control block at LBA 16"
msg_chs_ok:	.asciz "boot: AH=02 read and checked sectors: "
msg_edd_ok:	.asciz "boot: AH=42 read and checked sectors: "
msg_write_ok:	.asciz "boot: AH=43 wrote and read back sectors: "
msg_chs_err:	.asciz "AH=02 status "
msg_edd_err:	.asciz "AH=42/43 status "
msg_lba:	.asciz " at LBA "
msg_verify:	.asciz "wrong data in the chunk at LBA "
msg_at:		.asciz ", byte "
msg_chain:	.asciz "boot: reset chain, boot "
msg_noreset:	.asciz "the machine did not reset"
msg_pass:	.asciz "boot: PASS"
