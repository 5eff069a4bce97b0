/* A PVH image that drives vmmon's PIIX IDE controller by hand, as ata.sh runs it: no driver,
 * 32-bit protected mode without paging, polled PIO and DMA plus one interrupt-driven read per
 * channel through the 8259 PICs. The host fills each disk with sector L byte k = (L*7 + k) & 0xff;
 * the image checks what it reads against that, writes (L*7 + k) ^ 0xa5 patterns that ata.sh then
 * finds in the files, and tries the bad inputs a driver can make. It prints "ata: PASS" and exits
 * through debug-exit with 0, or prints "ata: FAIL step N" and exits with N.
 *   MODE 0: one read-write disk of 8 MiB (16384 sectors): every command and bad input.
 *   MODE 1: one read-only disk: reads work, PIO and DMA writes are refused.
 *   MODE 2: three disks (8, 4 and 2 MiB): primary master, primary slave, secondary master. */
#ifndef MODE
#define MODE 0
#endif

#define STACK	0x8f000
#define BUF1	0x200000 /* page aligned: a sector read with rep insw is one exit */
#define BUF2	0x210000
#define PRD	0x300000 /* the PRD table; its 64 KiB block ends at 0x310000 */
#define IDT	0x320000
#define VARS	0x330000
#define IRQS	(VARS + 0)  /* interrupts taken */
#define BMBASE	(VARS + 4)  /* bus-master registers of the channel (BAR4 + 0 or + 8) */
#define CMDB	(VARS + 8)  /* command block of the channel in use: 0x1f0 or 0x170 */
#define CTLP	(VARS + 12) /* its control port: 0x3f6 or 0x376 */
#define KEY	(VARS + 16) /* xor key of fill_pattern */
#define UNIT	(VARS + 20) /* the device bit (0 or 0x10) of the drive in use */
#define IDTR	(VARS + 24)
#define PCIADDR	(VARS + 32)
#define BMBAR	(VARS + 36)
#define RESUME	(VARS + 40)

#define ST_OK	0x50 /* DRDY | DSC */
#define ST_ERR	0x41 /* DRDY | ERR */
#define ABRT	0x04
#define IDNF	0x10

	.section .note.Xen, "a"
	.align 4
	.long 4, 4, 18 /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.code32

/* Fails with step \code unless (%al & \mask) == \val. */
.macro expect mask, val, code
	and $\mask, %al
	cmp $\val, %al
	mov $\code, %ebx
	jne fail
.endm

/* %al to command-block register \reg of the current channel. */
.macro tf_out reg
	mov CMDB, %edx
	add $\reg, %edx
	out %al, %dx
.endm

.macro tf_in reg
	mov CMDB, %edx
	add $\reg, %edx
	in %dx, %al
.endm

.macro print str
	mov $\str, %esi
	call puts
.endm

/* A command with no data: issue it, wait, and check the status and error registers. */
.macro nodata cmd, status, error, code
	mov $\cmd, %al
	tf_out 7
	call wait_ready
	tf_in 7
	expect 0xff, \status, \code
	tf_in 1
	expect 0xff, \error, \code
.endm

	.globl _start
_start:
	cli
	/* PVH leaves the GDT unspecified: an interrupt gate needs a code selector of our own. */
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $STACK, %esp
	movl $0x1f0, CMDB
	movl $0x3f6, CTLP
	movl $0, UNIT
	movl $0, IRQS
	call find_ide
	mov $0x02, %al		/* nIEN: polled until the interrupt tests */
	mov CTLP, %edx
	out %al, %dx
#if MODE == 0
	call absent
	call reset
	call identify_main
	call pio_tests
	call dma_tests
	call feature_tests
	call bad_tests
	call irq_read
#elif MODE == 1
	call readonly_tests
#else
	call multi_tests
#endif
	print pass_msg
	xor %eax, %eax
	mov $0xf4, %dx
	out %eax, %dx
1:	hlt
	jmp 1b

/* ---------------------------------------------------------------- helpers ---------------- */

putc:	push %edx
	mov $0x3f8, %dx
	out %al, %dx
	pop %edx
	ret

puts:	lodsb
	test %al, %al
	jz 1f
	call putc
	jmp puts
1:	ret

/* Step %ebx failed: say which and exit with it. */
fail:	print fail_msg
	mov %ebx, %eax
	shr $4, %eax
	call hexdigit
	mov %ebx, %eax
	call hexdigit
	mov $'\n', %al
	call putc
	mov %ebx, %eax
	mov $0xf4, %dx
	out %eax, %dx
1:	hlt
	jmp 1b

hexdigit:
	and $0xf, %eax
	mov hexchars(%eax), %al
	jmp putc

/* Waits for BSY to clear (alternate status: no acknowledgement); %al = status. */
wait_ready:
	push %ecx
	mov $20000000, %ecx
1:	mov CTLP, %edx
	in %dx, %al
	test $0x80, %al
	jz 2f
	loop 1b
	mov $0xee, %ebx
	jmp fail
2:	pop %ecx
	ret

/* Waits for the next DRQ block; fails with 0xed if the drive ends without one. */
wait_drq:
	call wait_ready
	test $0x08, %al
	jnz 1f
	mov $0xed, %ebx
	jmp fail
1:	ret

/* LBA28 address %eax, count %cl, on the drive UNIT. */
set_lba28:
	push %eax
	shr $24, %eax
	and $0x0f, %al
	or $0xe0, %al
	or UNIT, %al
	tf_out 6
	mov %cl, %al
	tf_out 2
	pop %eax
	tf_out 3
	shr $8, %eax
	tf_out 4
	shr $8, %eax
	tf_out 5
	ret

/* LBA48 address %eax (below 2^32), count %ecx (16 bits): high bytes first. */
set_lba48:
	push %eax
	mov $0x40, %al
	or UNIT, %al
	tf_out 6
	mov %ch, %al
	tf_out 2
	mov %cl, %al
	tf_out 2
	mov (%esp), %eax
	shr $24, %eax
	tf_out 3
	mov (%esp), %eax
	tf_out 3
	xor %al, %al
	tf_out 4
	mov (%esp), %eax
	shr $8, %eax
	tf_out 4
	xor %al, %al
	tf_out 5
	pop %eax
	shr $16, %eax
	tf_out 5
	ret

/* Fills %ecx sectors at %edi with the pattern of LBA %eax: ((L*7 + k) & 0xff) ^ KEY. */
fill_pattern:
	push %eax
	push %ecx
	push %edi
	imul $7, %eax, %edx
1:	push %ecx
	mov $512, %ecx
	mov %edx, %eax
2:	push %eax
	xor KEY, %eax
	stosb
	pop %eax
	inc %eax
	loop 2b
	pop %ecx
	add $7, %edx
	loop 1b
	pop %edi
	pop %ecx
	pop %eax
	ret

/* Compares %ecx sectors at %esi and %edi; fails with step %ebx if they differ. */
compare:
	shl $9, %ecx
	repe cmpsb
	jne fail
	ret

/* PIO-in of %ecx sectors to %edi in blocks of %ebp sectors (one rep insw each). */
pio_in:	push %ecx
	push %edi
1:	push %ecx
	call wait_drq
	mov %ebp, %ecx
	shl $8, %ecx
	mov CMDB, %edx
	rep insw
	pop %ecx
	sub %ebp, %ecx
	ja 1b
	call wait_ready
	tf_in 7
	expect 0xff, ST_OK, 0xec
	pop %edi
	pop %ecx
	ret

/* PIO-out of %ecx sectors from %esi in blocks of %ebp sectors. */
pio_out:
	push %ecx
	push %esi
1:	push %ecx
	call wait_drq
	mov %ebp, %ecx
	shl $8, %ecx
	mov CMDB, %edx
	rep outsw
	pop %ecx
	sub %ebp, %ecx
	ja 1b
	call wait_ready
	tf_in 7
	expect 0xff, ST_OK, 0xeb
	pop %esi
	pop %ecx
	ret

/* Writes %ecx sectors of the KEY=0xa5 pattern at LBA %eax with WRITE SECTORS, reads them back
 * with READ SECTORS and compares. Step %ebx. */
write_read_check:
	push %ebx
	movl $0xa5, KEY
	mov $BUF1, %edi
	call fill_pattern
	push %eax
	call set_lba28
	mov $0x30, %al		/* WRITE SECTORS */
	tf_out 7
	mov $BUF1, %esi
	mov $1, %ebp
	call pio_out
	mov (%esp), %eax
	call set_lba28
	mov $0x20, %al		/* READ SECTORS */
	tf_out 7
	mov $BUF2, %edi
	call pio_in
	pop %eax
	pop %ebx
	mov $BUF1, %esi
	mov $BUF2, %edi
	jmp compare

/* Reads %ecx sectors at LBA %eax and checks them against the host's fill (KEY 0). */
read_check_host:
	push %ebx
	push %ecx
	push %eax
	call set_lba28
	mov $0x20, %al
	tf_out 7
	mov $BUF2, %edi
	mov $1, %ebp
	call pio_in
	movl $0, KEY
	pop %eax
	pop %ecx
	mov $BUF1, %edi
	call fill_pattern
	pop %ebx
	mov $BUF1, %esi
	mov $BUF2, %edi
	jmp compare

/* IDENTIFY DEVICE into BUF2; checks word 0 and that the LBA28 capacity is %eax. Step %ebx. */
identify:
	push %eax
	mov $0xa0, %al
	or UNIT, %al
	tf_out 6
	mov $0xec, %al
	tf_out 7
	mov $BUF2, %edi
	mov $1, %ecx
	mov $1, %ebp
	call pio_in
	pop %eax
	cmpw $0x0040, BUF2
	jne fail
	cmp BUF2 + 120, %eax	/* words 60-61 */
	jne fail
	ret

/* ---------------------------------------------------------------- PCI --------------------- */

/* The IDE function by its ID on bus 0: class, BAR4, then I/O and bus master on. */
find_ide:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $11, %eax
	or $0x80000000, %eax
	mov %eax, PCIADDR
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	cmp $0x70108086, %eax
	je 2f
	inc %ecx
	cmp $32, %ecx
	jb 1b
	mov $0x01, %ebx
	jmp fail
2:	mov PCIADDR, %eax
	or $0x08, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	shr $8, %eax
	cmp $0x010180, %eax
	mov $0x02, %ebx
	jne fail
	mov PCIADDR, %eax
	or $0x20, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	test $1, %eax		/* an I/O BAR */
	mov $0x03, %ebx
	jz fail
	and $0xfffc, %eax
	jz fail
	mov %eax, BMBAR
	mov %eax, BMBASE
	mov PCIADDR, %eax
	or $0x04, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	mov $0x0005, %eax	/* I/O space, bus master */
	out %ax, %dx
	ret

/* ---------------------------------------------------------------- MODE 0 ------------------ */

/* No slave on the primary channel, no drives on the secondary: both read as absent. */
absent:	mov $0x177, %dx
	in %dx, %al
	expect 0xff, 0x00, 0x04
	mov $0xb0, %al
	tf_out 6
	tf_in 7
	expect 0xff, 0x00, 0x05
	mov $0xa0, %al
	tf_out 6
	tf_in 7
	expect 0xff, ST_OK, 0x06
	ret

/* Soft reset: BSY while SRST is set, then the ATA signature and diagnostic code 01h. */
reset:	mov $0x06, %al
	mov CTLP, %edx
	out %al, %dx
	in %dx, %al
	expect 0x80, 0x80, 0x07
	mov $0x02, %al
	out %al, %dx
	call wait_ready
	tf_in 2
	expect 0xff, 1, 0x08
	tf_in 3
	expect 0xff, 1, 0x09
	tf_in 4
	expect 0xff, 0, 0x0a
	tf_in 5
	expect 0xff, 0, 0x0b
	tf_in 1
	expect 0xff, 1, 0x0c
	ret

identify_main:
	mov $16384, %eax
	mov $0x10, %ebx
	call identify
	mov $0x11, %ebx
	cmpw $0x564d, BUF2 + 54	/* model "VMMON...": 'V' in the high byte */
	jne fail
	testw $0x0400, BUF2 + 166 /* word 83: LBA48 */
	jz fail
	cmpl $16384, BUF2 + 200	/* words 100-101 */
	jne fail
	nodata 0xa1, ST_ERR, ABRT, 0x12 /* IDENTIFY PACKET DEVICE: not a packet device */
	ret

pio_tests:
	/* The host's data read back as it is. */
	mov $50, %eax
	mov $3, %ecx
	mov $0x20, %ebx
	call read_check_host
	/* WRITE/READ SECTORS, two sectors at 100. */
	mov $100, %eax
	mov $2, %ecx
	mov $0x21, %ebx
	call write_read_check
	/* LBA48: WRITE/READ SECTORS EXT, one sector at 0x3000. */
	movl $0xa5, KEY
	mov $0x3000, %eax
	mov $1, %ecx
	mov $BUF1, %edi
	call fill_pattern
	call set_lba48
	mov $0x34, %al
	tf_out 7
	mov $BUF1, %esi
	mov $1, %ebp
	call pio_out
	mov $0x3000, %eax
	mov $1, %ecx
	call set_lba48
	mov $0x24, %al
	tf_out 7
	mov $BUF2, %edi
	call pio_in
	mov $BUF1, %esi
	mov $0x22, %ebx
	call compare
	/* SET MULTIPLE 4; WRITE MULTIPLE and READ MULTIPLE of 8 sectors at 200: two blocks. */
	mov $4, %al
	tf_out 2
	nodata 0xc6, ST_OK, 0, 0x23
	movl $0xa5, KEY
	mov $200, %eax
	mov $8, %ecx
	mov $BUF1, %edi
	call fill_pattern
	call set_lba28
	mov $0xc5, %al
	tf_out 7
	mov $BUF1, %esi
	mov $4, %ebp
	call pio_out
	mov $200, %eax
	mov $8, %ecx
	call set_lba28
	mov $0xc4, %al
	tf_out 7
	mov $BUF2, %edi
	call pio_in
	mov $BUF1, %esi
	mov $0x24, %ebx
	call compare
	ret

/* One PRD entry at PRD: %eax bytes (with the EOT bit if wanted) at BUF2. */
prd1:	movl $BUF2, PRD
	mov %eax, PRD + 4
	ret

/* A DMA command %bl (0xc8 read, 0xca write) of %ecx sectors at LBA %eax, table PRD, engine
 * started after the command; waits for the drive; %al = bus-master status. */
dma_run:
	push %ebx
	push %eax
	mov BMBASE, %edx
	xor %al, %al
	out %al, %dx		/* stop */
	add $2, %edx
	mov $0x06, %al
	out %al, %dx		/* clear Error and Interrupt */
	add $2, %edx
	mov $PRD, %eax
	out %eax, %dx
	pop %eax
	call set_lba28
	mov (%esp), %eax
	tf_out 7
	pop %ebx
	mov $0x01, %al
	cmp $0xc8, %bl
	jne 1f
	or $0x08, %al		/* the controller writes memory */
1:	mov BMBASE, %edx
	out %al, %dx		/* start */
	call wait_ready
	mov BMBASE, %edx
	add $2, %edx
	in %dx, %al
	push %eax
	mov BMBASE, %edx
	xor %al, %al
	out %al, %dx		/* stop */
	pop %eax
	ret

dma_tests:
	/* WRITE DMA of two sectors at 300 (polled: nIEN keeps Interrupt clear). */
	movl $0xa5, KEY
	mov $300, %eax
	mov $2, %ecx
	mov $BUF2, %edi
	call fill_pattern
	mov $(1024 | 0x80000000), %eax
	call prd1
	mov $300, %eax
	mov $2, %ecx
	mov $0xca, %bl
	call dma_run
	expect 0x07, 0x00, 0x30	/* not Active (the table was used up), no Error */
	tf_in 7
	expect 0xff, ST_OK, 0x31
	/* READ DMA of them into BUF2 with interrupts on at the drive: Interrupt set. */
	mov $BUF2, %edi
	mov $1024, %ecx
	xor %al, %al
	rep stosb
	xor %al, %al
	mov CTLP, %edx
	out %al, %dx
	mov $300, %eax
	mov $2, %ecx
	mov $0xc8, %bl
	call dma_run
	expect 0x07, 0x04, 0x32
	tf_in 7
	expect 0xff, ST_OK, 0x33
	mov $0x02, %al
	mov CTLP, %edx
	out %al, %dx
	mov $300, %eax
	mov $2, %ecx
	mov $BUF1, %edi
	call fill_pattern
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $0x34, %ebx
	call compare
	ret

feature_tests:
	nodata 0xe7, ST_OK, 0, 0x40	/* FLUSH CACHE */
	nodata 0xea, ST_OK, 0, 0x41	/* FLUSH CACHE EXT */
	mov $0x03, %al
	tf_out 1
	mov $0x22, %al		/* multiword DMA 2 */
	tf_out 2
	nodata 0xef, ST_OK, 0, 0x42
	mov $0x82, %al		/* write cache off: the next write is flushed before it ends */
	tf_out 1
	nodata 0xef, ST_OK, 0, 0x43
	mov $400, %eax
	mov $1, %ecx
	mov $0x44, %ebx
	call write_read_check
	mov $0x02, %al
	tf_out 1
	nodata 0xef, ST_OK, 0, 0x45
	mov $0x99, %al		/* a SET FEATURES subcommand we do not have */
	tf_out 1
	nodata 0xef, ST_ERR, ABRT, 0x46
	nodata 0x50, ST_ERR, ABRT, 0x47	/* an obsolete command */
	nodata 0x90, ST_OK, 0x01, 0x48	/* EXECUTE DEVICE DIAGNOSTIC: code 01h, no ERR */
	ret

bad_tests:
	/* An LBA past the end, and counts of 0 (256, 65536) that cross it: IDNF, no data. */
	mov $16384, %eax
	mov $1, %ecx
	call set_lba28
	nodata 0x20, ST_ERR, IDNF, 0x50
	mov $(16384 - 100), %eax
	xor %ecx, %ecx
	call set_lba28
	nodata 0x20, ST_ERR, IDNF, 0x51
	xor %eax, %eax
	xor %ecx, %ecx
	call set_lba48
	nodata 0x24, ST_ERR, IDNF, 0x52
	mov $16383, %eax
	mov $2, %ecx
	call set_lba28
	nodata 0xc8, ST_ERR, IDNF, 0x53
	/* A data read without DRQ: 0, and the status of the last command stays as it was. */
	mov CMDB, %edx
	in %dx, %ax
	cmp $0, %ax
	mov $0x54, %ebx
	jne fail
	tf_in 7
	expect 0xff, ST_ERR, 0x55
	/* A PRD buffer outside RAM (the guest has 512 MiB) after a good one: bus-master Error,
	 * ATA abort, and not even the good buffer written (the table is checked first). */
	mov $BUF2, %edi
	mov $512, %ecx
	mov $0xcc, %al
	rep stosb
	movl $BUF2, PRD
	movl $512, PRD + 4
	movl $0xe0000000, PRD + 8
	movl $(512 | 0x80000000), PRD + 12
	mov $0, %eax
	mov $2, %ecx
	mov $0xc8, %bl
	call dma_run
	expect 0x07, 0x02, 0x56	/* Error, not Active (and no Interrupt: nIEN is set) */
	tf_in 7
	expect 0xff, ST_ERR, 0x57
	tf_in 1
	expect 0xff, ABRT, 0x58
	mov $0x5f, %ebx
	cmpb $0xcc, BUF2
	jne fail
	cmpb $0xcc, BUF2 + 511
	jne fail
	/* A table without EOT that runs into its 64 KiB boundary (entry at PRD + 0xfff8). */
	movl $BUF2, PRD + 0xfff8
	movl $2, PRD + 0xfffc
	mov $(PRD + 0xfff8), %eax
	call dma_run_at
	expect 0x07, 0x02, 0x59
	/* Entries shorter than the transfer: 512 bytes for 2 sectors. */
	mov $(512 | 0x80000000), %eax
	call prd1
	mov $0, %eax
	mov $2, %ecx
	mov $0xc8, %bl
	call dma_run
	expect 0x07, 0x02, 0x5a
	/* Longer than the transfer: 4 KiB for 1 sector is a normal end, Active left set. */
	mov $BUF2, %edi
	mov $4096, %ecx
	mov $0xcc, %al
	rep stosb
	mov $(4096 | 0x80000000), %eax
	call prd1
	xor %al, %al
	mov CTLP, %edx
	out %al, %dx		/* interrupts on at the drive: Interrupt shows */
	mov $7, %eax
	mov $1, %ecx
	mov $0xc8, %bl
	call dma_run
	expect 0x07, 0x05, 0x5b
	mov $0x02, %al
	mov CTLP, %edx
	out %al, %dx
	tf_in 7
	expect 0xff, ST_OK, 0x5c
	cmpb $0xcc, BUF2 + 512	/* nothing past the sector */
	mov $0x5d, %ebx
	jne fail
	cmpb $0xcc, BUF2 + 4095
	jne fail
	movl $0, KEY
	mov $7, %eax
	mov $1, %ecx
	mov $BUF1, %edi
	call fill_pattern
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $0x5e, %ebx
	call compare
	ret

/* dma_run with the table at %eax instead of PRD: READ DMA of 1 sector at 0. */
dma_run_at:
	push %eax
	mov BMBASE, %edx
	xor %al, %al
	out %al, %dx
	add $2, %edx
	mov $0x06, %al
	out %al, %dx
	add $2, %edx
	pop %eax
	out %eax, %dx
	xor %eax, %eax
	mov $1, %ecx
	call set_lba28
	mov $0xc8, %al
	tf_out 7
	mov BMBASE, %edx
	mov $0x09, %al
	out %al, %dx
	call wait_ready
	mov BMBASE, %edx
	add $2, %edx
	in %dx, %al
	push %eax
	mov BMBASE, %edx
	xor %al, %al
	out %al, %dx
	pop %eax
	ret

/* ---------------------------------------------------------------- interrupts --------------- */

/* An IDT whose vectors 0x2e/0x2f (IRQ 14/15 behind the PICs at 0x20/0x28) count interrupts. */
setup_irqs:
	xor %ecx, %ecx
	mov $0x08, %bx
1:	mov $other_isr, %eax
	cmp $32, %ecx
	jae 2f
	mov $exc_isr, %eax
2:	cmp $0x2e, %ecx
	jne 3f
	mov $isr14, %eax
3:	cmp $0x2f, %ecx
	jne 4f
	mov $isr15, %eax
4:	mov %ax, IDT(,%ecx,8)
	mov %bx, IDT + 2(,%ecx,8)
	shr $16, %eax
	movw $0x8e00, IDT + 4(,%ecx,8)
	mov %ax, IDT + 6(,%ecx,8)
	inc %ecx
	cmp $256, %ecx
	jb 1b
	movw $0x7ff, IDTR
	movl $IDT, IDTR + 2
	lidt IDTR
	/* The PICs: vectors 0x20 and 0x28, cascade on IRQ 2, only IRQ 14 and 15 unmasked. */
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $0x04, %al
	out %al, $0x21
	mov $0x02, %al
	out %al, $0xa1
	mov $0x01, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xfb, %al
	out %al, $0x21
	mov $0x3f, %al
	out %al, $0xa1
	movl $0x1ff, 0xfee000f0	/* local APIC on; LINT0 takes the PIC (virtual wire) */
	ret

isr14:	push %eax
	push %edx
	mov $0x1f7, %dx
	in %dx, %al		/* acknowledge at the drive */
	incl IRQS
	jmp eoi
isr15:	push %eax
	push %edx
	mov $0x177, %dx
	in %dx, %al
	incl IRQS
eoi:	mov $0x20, %al
	out %al, $0xa0
	out %al, $0x20
	pop %edx
	pop %eax
/* Back to the interrupted instruction without iret, interrupts still off: some hosts (KVM on
 * PVM) run IRET through KVM's emulator, which has no protected-mode IRET. Every interrupt here
 * lands in an sti window that a cli closes, so returning with IF clear changes nothing. */
irq_return:
	push %eax
	mov 4(%esp), %eax	/* the interrupted EIP */
	mov %eax, RESUME
	pop %eax
	add $12, %esp		/* EIP, CS, EFLAGS */
	jmp *RESUME
other_isr:
	jmp irq_return
exc_isr:
	mov $0x63, %ebx
	jmp fail

/* READ SECTORS of %ecx sectors at %eax with the interrupt on: one interrupt per block, each
 * waited for with hlt before the block is read. Step %ebx. */
irq_read_at:
	push %ebx
	push %ecx
	call set_lba28
	sti			/* take what the PICs latched while the tests polled */
	nop
	nop
	cli
	movl $0, IRQS
	xor %al, %al
	mov CTLP, %edx
	out %al, %dx		/* nIEN off */
	mov $0x20, %al
	tf_out 7
	pop %ecx
	mov $BUF2, %edi
	xor %esi, %esi
1:	inc %esi
2:	sti
	hlt			/* sti's shadow: the interrupt cannot slip in before the hlt */
	cli
	cmp IRQS, %esi
	ja 2b
	mov CTLP, %edx
	in %dx, %al
	expect 0x88, 0x08, 0x70	/* DRQ, not BSY */
	push %ecx
	mov $256, %ecx
	mov CMDB, %edx
	rep insw
	pop %ecx
	loop 1b
	mov $0x02, %al
	mov CTLP, %edx
	out %al, %dx
	pop %ebx
	cmp IRQS, %esi
	jne fail		/* exactly one interrupt per block */
	ret

irq_read:
	call setup_irqs
	mov $100, %eax
	mov $2, %ecx
	mov $0x71, %ebx
	call irq_read_at
	movl $0xa5, KEY
	mov $100, %eax
	mov $2, %ecx
	mov $BUF1, %edi
	call fill_pattern
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $0x72, %ebx
	call compare
	ret

/* ---------------------------------------------------------------- MODE 1 ------------------ */

readonly_tests:
	mov $16384, %eax
	mov $0x80, %ebx
	call identify
	mov $10, %eax
	mov $2, %ecx
	mov $0x81, %ebx
	call read_check_host
	mov $10, %eax
	mov $1, %ecx
	call set_lba28
	nodata 0x30, ST_ERR, ABRT, 0x82	/* WRITE SECTORS: refused before any DRQ */
	mov $10, %eax
	mov $8, %ecx
	call set_lba28
	nodata 0xc5, ST_ERR, ABRT, 0x83	/* WRITE MULTIPLE */
	mov $(1024 | 0x80000000), %eax
	call prd1
	mov $10, %eax
	mov $2, %ecx
	mov $0xca, %bl
	call dma_run
	tf_in 7
	expect 0xff, ST_ERR, 0x84	/* WRITE DMA */
	tf_in 1
	expect 0xff, ABRT, 0x85
	ret

/* ---------------------------------------------------------------- MODE 2 ------------------ */

/* Disk %edi (0-2) at CMDB/UNIT: IDENTIFY (capacity %eax), then sector 1 written with the pattern
 * of LBA 1 + 0x1000 * disk (so each file holds its own) and read back. */
disk_check:
	push %edi
	mov $0x90, %ebx
	add %edi, %ebx
	call identify
	pop %edi
	push %edi
	movl $0xa5, KEY
	mov %edi, %eax
	shl $12, %eax
	inc %eax
	mov $1, %ecx
	mov $BUF1, %edi
	call fill_pattern
	mov $1, %eax
	call set_lba28
	mov $0x30, %al
	tf_out 7
	mov $BUF1, %esi
	mov $1, %ebp
	call pio_out
	mov $1, %eax
	mov $1, %ecx
	call set_lba28
	mov $0x20, %al
	tf_out 7
	mov $BUF2, %edi
	call pio_in
	pop %edi
	mov $0x98, %ebx
	add %edi, %ebx
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $1, %ecx
	jmp compare

multi_tests:
	mov $16384, %eax
	xor %edi, %edi
	call disk_check
	movl $0x10, UNIT		/* primary slave */
	mov $8192, %eax
	mov $1, %edi
	call disk_check
	movl $0, UNIT
	mov $0xa0, %al
	tf_out 6
	movl $0x170, CMDB		/* secondary master */
	movl $0x376, CTLP
	mov BMBAR, %eax
	add $8, %eax
	mov %eax, BMBASE
	mov $0x02, %al
	mov CTLP, %edx
	out %al, %dx
	mov $4096, %eax
	mov $2, %edi
	call disk_check
	/* Its interrupt is IRQ 15, its bus master the second half of BAR4. */
	call setup_irqs
	mov $1, %eax
	mov $1, %ecx
	mov $0xa0, %ebx
	call irq_read_at
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $1, %ecx
	mov $0xa3, %ebx
	call compare
	mov $(512 | 0x80000000), %eax
	call prd1
	mov $1, %eax
	mov $1, %ecx
	mov $0xc8, %bl
	call dma_run
	expect 0x07, 0x00, 0xa1
	mov $BUF1, %esi
	mov $BUF2, %edi
	mov $1, %ecx
	mov $0xa2, %ebx
	jmp compare

	.align 8
gdt:	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: flat data */
gdt_desc:
	.word 3 * 8 - 1
	.long gdt

pass_msg:
	.asciz "ata: PASS\n"
fail_msg:
	.asciz "ata: FAIL step "
hexchars:
	.ascii "0123456789abcdef"
