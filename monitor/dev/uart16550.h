/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (National Semiconductor PC16550D datasheet) as wired on a PC's COM port: 16-byte
 * receive FIFO, interrupt line gated by MCR OUT2, loopback through MCR LOOP.
 */
#ifndef VMMON_DEV_UART16550_H
#define VMMON_DEV_UART16550_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../irq.h"

#define UART_FIFO_SIZE 16
#define UART_NR_PORTS  8

struct uart16550 {
	pthread_mutex_t lock;

	/* Wiring. */
	struct vmm_irq irq;
	void (*tx)(void *ctx, uint8_t byte); /* a byte leaves the transmitter */
	void (*rx_space)(void *ctx);	     /* the receive FIFO drained: more input fits */
	void *ctx;

	/* Receive FIFO (1 deep while FIFOs are disabled). */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	/* Registers, in datasheet order. */
	uint8_t ier, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool thr_ipending; /* THR-empty interrupt pending until IIR is read or THR written */
	bool irq_level;	   /* what the line was last driven to */
};

void uart_init(struct uart16550 *u, struct vmm_irq irq, void (*tx)(void *, uint8_t),
	       void (*rx_space)(void *), void *ctx);
void uart_destroy(struct uart16550 *u);

/* The register core: one access at register offset 0-7. */
uint8_t uart_read(struct uart16550 *u, unsigned off);
void uart_write(struct uart16550 *u, unsigned off, uint8_t val);

/* Input from the host side; returns how many bytes fitted in the FIFO. */
size_t uart_rx_push(struct uart16550 *u, const uint8_t *buf, size_t n);
/* Free space in the receive FIFO. */
size_t uart_rx_room(struct uart16550 *u);

/* Bus glue (vmm_trap_fn): byte accesses only. */
int uart_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
