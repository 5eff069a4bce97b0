/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART driver: polled transmit, polled receive, and the interrupt-enable controls.
 * Register names are Linux's <linux/serial_reg.h>.
 */
#ifndef G_DRIVERS_UART_H
#define G_DRIVERS_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct g_uart {
	/* wiring */
	uint16_t port;
	uint8_t irq; /* ISA IRQ */
	/* state */
	bool fifo;	      /* 16550A FIFOs detected and enabled */
	unsigned int tx_room; /* bytes the transmitter accepts before LSR must be polled again */
	uint8_t mcr;	      /* shadow of the modem control register */
};

/* Usable for polled output without g_uart_init: one byte per THRE poll. */
#define G_UART_INIT_POLLED(p, i)                                                                   \
	{                                                                                          \
		.port = (p), .irq = (i), .tx_room = 0                                              \
	}

/* 115200 8N1, FIFOs on, interrupts off, DTR and RTS raised. */
int g_uart_init(struct g_uart *u, uint16_t port, uint8_t irq);

/* Writes n bytes, turning "\n" into "\r\n". Busy-waits on LSR.THRE. */
void g_uart_write(struct g_uart *u, const char *s, size_t n);

/* Sets IER to ier (UART_IER_*); with any interrupt enabled, OUT2 is raised as well, since on PC
 * wiring OUT2 gates the UART's interrupt line. */
void g_uart_set_ier(struct g_uart *u, uint8_t ier);

/* Takes one received byte into *c if the receiver holds one; returns whether it did. */
bool g_uart_read_byte(struct g_uart *u, char *c);

/* Reads IIR, which also acknowledges a pending THR-empty interrupt. */
uint8_t g_uart_read_iir(struct g_uart *u);

#endif
