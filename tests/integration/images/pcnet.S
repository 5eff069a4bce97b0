/* A PVH image that drives the AMD PCnet-PCI II without a guest driver, for pcnet-e2e.py. At
 * 32-bit CPL0 with polling (no interrupts), on COM1 it prints a line per step:
 *   - finds 1022:2000 on PCI bus 0 (class 0200, an I/O BAR), turns on I/O and bus mastering;
 *   - resets it (a read of RESET), checks CSR0 = STOP, the chip ID, the PROM's 'W' 'W';
 *   - reads the MAC from the PROM, selects 32-bit structures (BCR20 = 2), INIT from an
 *     initialization block, STRT; 4 receive and 4 transmit descriptors;
 *   - sends "vmmon pcnet hello" to the broadcast address (31 bytes, padded to 60 by the chip);
 *   - waits for a frame of type 88B5 from the host and sends it back behind "echo:", through a
 *     chain of two transmit buffers (the header, then the received bytes in place);
 *   - bad input, each with the error the datasheet gives: an initialization block outside RAM
 *     (MERR), a transmit ring outside RAM (MERR, transmitter off), a TDMD storm on an empty
 *     ring (nothing), a 1600-byte frame (BABL, not sent), a chain without ENP (ERR, BUFF and
 *     UFLO, transmitter off);
 *   - restarts the chip and sends "vmmon pcnet bye".
 * It ends through debug-exit with 0, or with the number of the failed step (0x10-0x7f). */
#define COM1	  0x3f8
#define EXIT_PORT 0xf4
#define BUFSZ	  1536
#define HELLO_LEN 17 /* "vmmon pcnet hello" */
#define BYE_LEN	  15 /* "vmmon pcnet bye" */
#define SPIN	  4000000 /* polls of guest memory before a step fails */

/* CSR0 */
#define INIT 0x0001
#define STRT 0x0002
#define STOP 0x0004
#define TDMD 0x0008
#define TXON 0x0010
#define RXON 0x0020
#define IDON 0x0100
#define TINT 0x0200
#define RINT 0x0400
#define MERR 0x0800
#define BABL 0x4000
#define ERR  0x8000

/* TMD1/RMD1 */
#define OWN  0x80000000
#define DERR 0x40000000
#define STP  0x02000000
#define ENP  0x01000000
#define ONES 0x0000f000
#define BCNT(n) (0x1000 - (n))

#define FAIL(step) mov $(step), %al; jmp fail

	.section .note.Xen, "a"
	.align 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.code32
	.globl _start
_start:
	mov $stack_top, %esp
	cld
	mov $msg_start, %esi
	call puts
	call find_pcnet
	call check_chip
	call setup
	call start_chip
	call send_hello
	call echo
	call bad_input
	call send_bye
	mov $msg_pass, %esi
	call puts
	xor %eax, %eax
	jmp exit

/* %al: the failed step. Prints it and exits with it. */
fail:
	movzbl %al, %ebx
	mov $msg_fail, %esi
	call puts
	mov %ebx, %eax
	call puthex8
	mov $'\n', %al
	call putc
	mov %ebx, %eax
exit:
	mov $EXIT_PORT, %dx
	out %eax, %dx
1:	hlt
	jmp 1b

/* ------------------------------------------------------------------ console */
putc:				/* %al */
	push %edx
	mov $COM1, %dx
	out %al, %dx
	pop %edx
	ret

puts:				/* %esi: NUL-terminated */
	push %eax
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	pop %eax
	ret

puthex8:			/* %al as two hex digits */
	push %eax
	shr $4, %al
	call hexdigit
	pop %eax
	and $0xf, %al
hexdigit:
	add $'0', %al
	cmp $'9', %al
	jbe 1f
	add $('a' - '0' - 10), %al
1:	jmp putc

/* ------------------------------------------------------------------ registers */
/* CSR %eax = %ecx, through RAP (base+0x12) and RDP (base+0x10), word I/O. */
wcsr:
	push %edx
	mov iobase, %edx
	add $0x12, %edx
	out %ax, %dx
	sub $2, %edx
	mov %ecx, %eax
	out %ax, %dx
	pop %edx
	ret

/* %eax = CSR %eax */
rcsr:
	push %edx
	mov iobase, %edx
	add $0x12, %edx
	out %ax, %dx
	sub $2, %edx
	xor %eax, %eax
	in %dx, %ax
	pop %edx
	ret

/* BCR %eax = %ecx, through RAP and BDP (base+0x16). */
wbcr:
	push %edx
	mov iobase, %edx
	add $0x12, %edx
	out %ax, %dx
	add $4, %edx
	mov %ecx, %eax
	out %ax, %dx
	pop %edx
	ret

/* Polls the descriptor word at (%esi) until the chip gives it back (OWN clear). CF: timeout. */
wait_own_clear:
	push %ecx
	mov $SPIN, %ecx
1:	testl $OWN, (%esi)
	jz 2f
	pause
	dec %ecx
	jnz 1b
	pop %ecx
	stc
	ret
2:	pop %ecx
	clc
	ret

/* Polls CSR0 until a bit of %ebx is set; %eax = CSR0. CF: timeout. The transmitter runs on
 * vmmon's I/O thread, so its results show a moment after TDMD. Each poll is two exits (about
 * 50 us here): wait_csr0 gives up after about 5 s, wait_csr0_short after about 0.1 s. */
wait_csr0_short:
	push %ecx
	mov $2000, %ecx
	jmp 1f
wait_csr0:
	push %ecx
	mov $100000, %ecx
1:	xor %eax, %eax
	call rcsr
	test %ebx, %eax
	jnz 2f
	dec %ecx
	jnz 1b
	pop %ecx
	stc
	ret
2:	pop %ecx
	clc
	ret

/* ------------------------------------------------------------------ PCI */
/* Config dword at (pci_addr | %ebx) into %eax. */
pci_read:
	push %edx
	mov pci_addr, %eax
	or %ebx, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	pop %edx
	ret

find_pcnet:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $11, %eax
	or $0x80000000, %eax
	mov %eax, pci_addr
	xor %ebx, %ebx
	call pci_read
	cmp $0x20001022, %eax
	je 2f
	inc %ecx
	cmp $32, %ecx
	jb 1b
	FAIL(0x10)
2:	mov $0x08, %ebx		/* class code: network, Ethernet */
	call pci_read
	and $0xffffff00, %eax
	cmp $0x02000000, %eax
	je 3f
	FAIL(0x11)
3:	mov $0x10, %ebx		/* BAR0: an I/O BAR */
	call pci_read
	test $1, %eax
	jnz 4f
	FAIL(0x12)
4:	and $0xfffc, %eax
	mov %eax, iobase
	mov pci_addr, %eax	/* command: I/O space and bus master */
	or $0x04, %eax
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	mov $0x0005, %ax
	out %ax, %dx
	mov $msg_found, %esi
	call puts
	ret

/* ------------------------------------------------------------------ bring-up */
check_chip:
	mov iobase, %edx	/* reading RESET resets the chip */
	add $0x14, %edx
	in %dx, %ax
	xor %eax, %eax
	call rcsr
	cmp $STOP, %eax
	je 1f
	FAIL(0x13)
1:	mov $88, %eax		/* chip ID: Am79C970A */
	call rcsr
	cmp $0x1003, %eax
	je 2f
	FAIL(0x14)
2:	mov $89, %eax
	call rcsr
	cmp $0x0262, %eax
	je 3f
	FAIL(0x15)
3:	mov iobase, %edx	/* the PROM's signature, and the MAC */
	add $14, %edx
	in %dx, %ax
	cmp $0x5757, %ax
	je 4f
	FAIL(0x16)
4:	mov iobase, %edx
	mov $mac, %edi
	mov $6, %ecx
5:	in %dx, %al
	stosb
	inc %edx
	loop 5b
	ret

/* Software style 2, the initialization block, the rings. */
setup:
	mov $20, %eax
	mov $2, %ecx
	call wbcr
	movw $0, ib		/* mode */
	movb $0x20, ib + 2	/* RLEN = 2: 4 receive descriptors */
	movb $0x20, ib + 3	/* TLEN = 2: 4 transmit descriptors */
	mov mac, %eax
	mov %eax, ib + 4
	mov mac + 4, %ax
	mov %ax, ib + 8
	movl $rx_ring, ib + 20
	movl $tx_ring, ib + 24
	call rx_ring_give
	mov $tx_ring, %edi	/* the transmit descriptors are the host's */
	xor %eax, %eax
	mov $16, %ecx
	rep stosl
	mov $1, %eax
	mov $ib, %ecx
	and $0xffff, %ecx
	call wcsr
	mov $2, %eax
	mov $ib, %ecx
	shr $16, %ecx
	call wcsr
	mov $4, %eax		/* CSR4 as pcnet32 sets it: transmit padding on */
	mov $0x0915, %ecx
	call wcsr
	ret

/* Every receive descriptor owned by the chip, with a BUFSZ buffer. */
rx_ring_give:
	mov $rx_ring, %edi
	mov $rxbuf, %eax
	mov $4, %ecx
1:	mov %eax, (%edi)
	movl $0, 8(%edi)
	movl $(OWN | ONES | BCNT(BUFSZ)), 4(%edi)
	add $BUFSZ, %eax
	add $16, %edi
	loop 1b
	ret

/* INIT, IDON, then STRT: both units on. */
start_chip:
	xor %eax, %eax
	mov $INIT, %ecx
	call wcsr
	mov $IDON, %ebx
	call wait_csr0
	jnc 1f
	FAIL(0x20)
1:	test $MERR, %eax
	jz 2f
	FAIL(0x21)
2:	xor %eax, %eax
	mov $(STRT | IDON), %ecx
	call wcsr
	xor %eax, %eax
	call rcsr
	and $(TXON | RXON | STOP), %eax
	cmp $(TXON | RXON), %eax
	je 3f
	FAIL(0x22)
3:	mov $msg_started, %esi
	call puts
	ret

/* ------------------------------------------------------------------ frames */
/* A broadcast frame from us, type 88B5, with %ecx bytes from %esi, into txbuf. */
make_frame:
	mov $txbuf, %edi
	mov $0xffffffff, %eax
	stosl
	stosw
	push %esi
	mov $mac, %esi
	movsl
	movsw
	pop %esi
	mov $0xb588, %ax
	stosw
	rep movsb
	ret

/* Transmit descriptor at %edi: txbuf, %ecx bytes, one buffer; TDMD; wait for it. */
send_one:
	movl $txbuf, (%edi)
	movl $0, 8(%edi)
	mov $0x1000, %eax
	sub %ecx, %eax
	or $(OWN | STP | ENP | ONES), %eax
	mov %eax, 4(%edi)
	xor %eax, %eax
	mov $TDMD, %ecx
	call wcsr
	lea 4(%edi), %esi
	call wait_own_clear
	ret

send_hello:
	mov $hello, %esi
	mov $HELLO_LEN, %ecx
	call make_frame
	mov $tx_ring, %edi
	mov $(14 + HELLO_LEN), %ecx
	call send_one
	jnc 1f
	FAIL(0x30)
1:	testl $DERR, tx_ring + 4
	jz 2f
	FAIL(0x31)
2:	mov $TINT, %ebx
	call wait_csr0
	jnc 3f
	FAIL(0x32)
3:	xor %eax, %eax
	mov $TINT, %ecx
	call wcsr
	mov $msg_hello, %esi
	call puts
	ret

/* Waits for the host's frame in receive descriptor 0 and sends it back behind "echo:". */
echo:
	mov $rx_ring + 4, %esi
	call wait_own_clear
	jnc 1f
	FAIL(0x40)
1:	mov rx_ring + 4, %eax
	shr $24, %eax
	cmp $0x03, %al		/* STP and ENP, no error */
	je 2f
	FAIL(0x41)
2:	xor %eax, %eax
	call rcsr
	test $RINT, %eax
	jnz 3f
	FAIL(0x42)
3:	mov rx_ring + 8, %ebx	/* MCNT: the frame, padded to 60, and its FCS */
	and $0xfff, %ebx
	cmp $64, %ebx
	jae 4f
	FAIL(0x43)
4:	cmpw $0xb588, rxbuf + 12
	je 5f
	FAIL(0x44)
5:	mov $txbuf2, %edi	/* the header: back to the sender, from us, "echo:" */
	mov $rxbuf + 6, %esi
	movsl
	movsw
	mov $mac, %esi
	movsl
	movsw
	mov $0xb588, %ax
	stosw
	mov $echo_tag, %esi
	mov $5, %ecx
	rep movsb
	sub $(14 + 4), %ebx	/* the received payload, in place, without the FCS */
	movl $rxbuf + 14, tx_ring + 32
	movl $0, tx_ring + 40
	mov $0x1000, %eax
	sub %ebx, %eax
	or $(OWN | ENP | ONES), %eax
	mov %eax, tx_ring + 36
	movl $txbuf2, tx_ring + 16
	movl $0, tx_ring + 24
	movl $(OWN | STP | ONES | BCNT(19)), tx_ring + 20 /* the first buffer's OWN last */
	xor %eax, %eax
	mov $(RINT | TDMD), %ecx
	call wcsr
	mov $tx_ring + 20, %esi
	call wait_own_clear
	jnc 6f
	FAIL(0x45)
6:	mov $tx_ring + 36, %esi
	call wait_own_clear
	jnc 7f
	FAIL(0x46)
7:	testl $DERR, tx_ring + 36
	jz 8f
	FAIL(0x47)
8:	mov $msg_echo, %esi
	call puts
	ret

/* ------------------------------------------------------------------ bad input */
/* STOP, then INIT from the block at %ecx (CSR2:CSR1), with MERR acknowledged. */
reinit:
	push %ecx
	xor %eax, %eax
	mov $STOP, %ecx
	call wcsr
	mov (%esp), %ecx
	and $0xffff, %ecx
	mov $1, %eax
	call wcsr
	pop %ecx
	shr $16, %ecx
	mov $2, %eax
	call wcsr
	xor %eax, %eax
	mov $(INIT | MERR), %ecx
	call wcsr
	xor %eax, %eax
	call rcsr
	ret

bad_input:
	/* The initialization block outside RAM (the PCI hole): MERR, no IDON, still stopped. */
	mov $0xe0000000, %ecx
	call reinit
	and $(MERR | IDON | STOP), %eax
	cmp $(MERR | STOP), %eax
	je 1f
	FAIL(0x50)
1:	mov $msg_bad_ib, %esi
	call puts

	/* A transmit ring outside RAM: INIT works, TDMD meets it: MERR, transmitter off. */
	movl $0xf0000000, ib + 24
	mov $ib, %ecx
	call reinit
	test $IDON, %eax
	jnz 2f
	FAIL(0x51)
2:	xor %eax, %eax
	mov $(IDON | STRT | TDMD), %ecx
	call wcsr
	mov $MERR, %ebx
	call wait_csr0
	jnc 3f
	FAIL(0x52)
3:	test $TXON, %eax
	jz 4f
	FAIL(0x53)
4:	mov $msg_bad_ring, %esi
	call puts

	/* Back to good rings, all transmit descriptors the host's: a TDMD storm does nothing. */
	movl $tx_ring, ib + 24
	mov $tx_ring, %edi
	xor %eax, %eax
	mov $16, %ecx
	rep stosl
	call rx_ring_give
	mov $ib, %ecx
	call reinit
	xor %eax, %eax
	mov $(IDON | STRT), %ecx
	call wcsr
	mov $1000, %edx
5:	xor %eax, %eax
	mov $TDMD, %ecx
	call wcsr
	dec %edx
	jnz 5b
	mov $(TINT | ERR), %ebx
	call wait_csr0_short	/* a while for any late effect: it must time out */
	jc 6f
	FAIL(0x54)
6:	mov $msg_bad_storm, %esi
	call puts

	/* A 1600-byte frame in two buffers (1000 + 600): BABL, both given back, not sent. */
	movl $rxbuf, tx_ring + 16
	movl $(OWN | ENP | ONES | BCNT(600)), tx_ring + 20
	movl $rxbuf, tx_ring
	movl $(OWN | STP | ONES | BCNT(1000)), tx_ring + 4
	xor %eax, %eax
	mov $TDMD, %ecx
	call wcsr
	mov $tx_ring + 4, %esi
	call wait_own_clear
	jnc 7f
	FAIL(0x55)
7:	mov $BABL, %ebx
	call wait_csr0
	jnc 8f
	FAIL(0x56)
8:	testl $OWN, tx_ring + 20
	jz 9f
	FAIL(0x57)
9:	xor %eax, %eax
	mov $(BABL | TINT), %ecx
	call wcsr
	mov $msg_bad_long, %esi
	call puts

	/* A chain without ENP: descriptor 2 starts a frame, 3 is not the chip's. ERR on 2, BUFF
	 * and UFLO in its TMD2, the transmitter off. */
	movl $0, tx_ring + 52
	movl $txbuf, tx_ring + 32
	movl $0, tx_ring + 40
	movl $(OWN | STP | ONES | BCNT(100)), tx_ring + 36
	xor %eax, %eax
	mov $TDMD, %ecx
	call wcsr
	mov $tx_ring + 36, %esi
	call wait_own_clear
	jnc 10f
	FAIL(0x58)
10:	testl $DERR, tx_ring + 36
	jnz 11f
	FAIL(0x59)
11:	mov tx_ring + 40, %eax
	and $0xc0000000, %eax
	cmp $0xc0000000, %eax
	je 12f
	FAIL(0x5a)
12:	xor %eax, %eax
	call rcsr
	test $TXON, %eax
	jz 13f
	FAIL(0x5b)
13:	mov $msg_bad_chain, %esi
	call puts
	ret

/* Restarted with fresh rings, one more frame. */
send_bye:
	mov $tx_ring, %edi
	xor %eax, %eax
	mov $16, %ecx
	rep stosl
	mov $ib, %ecx
	call reinit
	xor %eax, %eax
	mov $(IDON | STRT | TINT), %ecx
	call wcsr
	mov $bye, %esi
	mov $BYE_LEN, %ecx
	call make_frame
	mov $tx_ring, %edi
	mov $(14 + BYE_LEN), %ecx
	call send_one
	jnc 1f
	FAIL(0x60)
1:	mov $msg_bye, %esi
	call puts
	ret

/* ------------------------------------------------------------------ data */
msg_start:	.asciz "pcnet: start\n"
msg_found:	.asciz "pcnet: found 1022:2000 with an I/O BAR\n"
msg_started:	.asciz "pcnet: initialized and started\n"
msg_hello:	.asciz "pcnet: hello sent\n"
msg_echo:	.asciz "pcnet: host frame echoed\n"
msg_bad_ib:	.asciz "pcnet: bad input: init block outside RAM: MERR\n"
msg_bad_ring:	.asciz "pcnet: bad input: transmit ring outside RAM: MERR, transmitter off\n"
msg_bad_storm:	.asciz "pcnet: bad input: TDMD storm on an empty ring: nothing\n"
msg_bad_long:	.asciz "pcnet: bad input: 1600-byte frame: BABL, not sent\n"
msg_bad_chain:	.asciz "pcnet: bad input: chain without ENP: BUFF UFLO, transmitter off\n"
msg_bye:	.asciz "pcnet: bye sent\n"
msg_pass:	.asciz "pcnet: PASS\n"
msg_fail:	.asciz "pcnet: FAIL at step 0x"
hello:		.ascii "vmmon pcnet hello"
bye:		.ascii "vmmon pcnet bye"
echo_tag:	.ascii "echo:"

	.align 4
iobase:		.long 0
pci_addr:	.long 0
mac:		.space 8
	.align 16
ib:		.space 28		/* the initialization block (32-bit) */
	.align 16
rx_ring:	.space 4 * 16
tx_ring:	.space 4 * 16
txbuf:		.space 64
txbuf2:		.space 64
	.align 16
rxbuf:		.space 4 * BUFSZ
	.align 16
		.space 1024
stack_top:
