/* SPDX-License-Identifier: MIT */
/*
 * The PIIX3's PCI-to-ISA bridge (Intel 82371SB function 0, 8086:7000, class 0x0601) as a PC
 * firmware expects it (--firmware), with the two things it does for the platform:
 *   - PCI interrupt routing: PIRQA#-PIRQD# each go to the ISA IRQ in their route control
 *     register (PIRQRC, config 0x60-0x63: bits 3:0 the IRQ, bit 7 set = not routed, the reset
 *     value). A device in slot S raises INTA# on PIRQ[(S - 1) & 3], the swizzle of QEMU's
 *     i440FX board that SeaBIOS's tables describe; the lines are level-triggered and shared:
 *     an ISA IRQ is high while any PIRQ routed to it has a device asserting it.
 *   - System Control Port A (port 0x92): bit 1 the A20 gate (kept and read back; KVM never
 *     masks A20), bit 0 "fast reset" (a 0 to 1 write resets the machine).
 * The edge/level control registers (ELCR, ports 0x4D0-0x4D1) belong to the PIC, which is
 * KVM's: those ports never leave the kernel. The IRQ routing of IDE, USB and the other PIIX3
 * functions, the APIC chip select (0x80), DMA and the top-of-memory registers are left out.
 */
#ifndef VMMON_DEV_PIIX3_H
#define VMMON_DEV_PIIX3_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define PIIX3_SLOT	    1 /* 00:01.0, as on QEMU's i440FX board */
#define PIIX3_VENDOR	    0x8086
#define PIIX3_DEVICE	    0x7000
#define PIIX3_CLASS	    0x060100 /* bridge, PCI-to-ISA */
#define PIIX3_PIRQRC	    0x60     /* PIRQRC[A-D]: 0x60-0x63 */
#define PIIX3_PIRQS	    4
#define PIIX3_PIRQ_DISABLED 0x80
#define PIIX3_PIRQ_IRQ_MASK 0x0f
#define PIIX3_INTX_SOURCES  8 /* the devices' INTA# lines, by slot modulo 8 */
#define PIIX3_PORT92	    0x92
#define PIIX3_PORT92_RESET  0x01
#define PIIX3_PORT92_A20    0x02
/* ISA IRQs a PIRQ may be routed to (PIIX3 datasheet: 3-7, 9-12, 14, 15). */
#define PIIX3_PIRQ_IRQS 0xdef8

struct piix3 {
	struct pci_dev pci;
	pthread_mutex_t lock;	    /* the routing state below; taken after the PCI host's lock */
	uint8_t route[PIIX3_PIRQS]; /* copy of PIRQRC, for devices interrupting off the host lock */
	uint8_t source[PIIX3_PIRQS]; /* INTx sources asserting each PIRQ, one bit per source */
	uint16_t driven;	     /* ISA IRQs this bridge holds high */
	uint8_t port92;
	int (*set_irq)(void *ctx, unsigned irq, bool level);
	void (*reset)(void *ctx);
	void *ctx;
};

/* set_irq drives an ISA IRQ; reset is the port 0x92 reset request; both get ctx. */
void piix3_init(struct piix3 *p, int (*set_irq)(void *ctx, unsigned irq, bool level),
		void (*reset)(void *ctx), void *ctx);
void piix3_destroy(struct piix3 *p);
/* A PCI device's INTA#: source is its slot modulo 8 (how vmmon numbers INTx lines: I/O APIC
 * pin 16 + slot % 8 without the PIIX3), which keeps the slot's PIRQ since 8 is a multiple of 4.
 * Returns 0 or the error of set_irq. */
int piix3_intx(struct piix3 *p, unsigned source, bool level);
/* Port 0x92 (bus trap shape): byte accesses. */
int piix3_port92_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
