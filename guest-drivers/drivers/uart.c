// SPDX-License-Identifier: MIT
/*
 * 16550A UART. Transmit is polled: once LSR.THRE says the holding register (or, with FIFOs, the
 * whole transmit FIFO) is empty, that many bytes go out without polling again. Each port access
 * is a VM exit under vmmon, so the FIFO cuts the exits per byte from two to about 1 + 1/16.
 */
#include <linux/serial_reg.h>

#include "drivers/uart.h"
#include "lib/io.h"

#define UART_FIFO_SIZE 16
#define UART_BAUD_BASE 115200 /* 1.8432 MHz / 16 */
#define UART_BAUD      115200

static uint8_t reg_read(struct g_uart *u, unsigned int reg)
{
	return g_inb(u->port + reg);
}

static void reg_write(struct g_uart *u, unsigned int reg, uint8_t v)
{
	g_outb(u->port + reg, v);
}

int g_uart_init(struct g_uart *u, uint16_t port, uint8_t irq)
{
	uint16_t divisor = UART_BAUD_BASE / UART_BAUD;

	u->port = port;
	u->irq = irq;
	reg_write(u, UART_IER, 0);
	reg_write(u, UART_LCR, UART_LCR_DLAB);
	reg_write(u, UART_DLL, divisor & 0xff);
	reg_write(u, UART_DLM, divisor >> 8);
	reg_write(u, UART_LCR, UART_LCR_WLEN8);
	reg_write(u, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	/* IIR bits 7:6 read 11 when the FIFOs are enabled (16550A); 00 on an 8250/16450. */
	u->fifo = (reg_read(u, UART_IIR) & 0xc0) == 0xc0;
	u->mcr = UART_MCR_DTR | UART_MCR_RTS;
	reg_write(u, UART_MCR, u->mcr);
	u->tx_room = 0;
	return 0;
}

static void put_byte(struct g_uart *u, char c)
{
	if (!u->tx_room) {
		while (!(reg_read(u, UART_LSR) & UART_LSR_THRE))
			;
		u->tx_room = u->fifo ? UART_FIFO_SIZE : 1;
	}
	reg_write(u, UART_TX, (uint8_t)c);
	u->tx_room--;
}

void g_uart_write(struct g_uart *u, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put_byte(u, '\r');
		put_byte(u, s[i]);
	}
}

void g_uart_set_ier(struct g_uart *u, uint8_t ier)
{
	if (ier)
		u->mcr |= UART_MCR_OUT2;
	else
		u->mcr &= ~UART_MCR_OUT2;
	reg_write(u, UART_MCR, u->mcr);
	reg_write(u, UART_IER, ier);
}

uint8_t g_uart_read_iir(struct g_uart *u)
{
	return reg_read(u, UART_IIR);
}

bool g_uart_read_byte(struct g_uart *u, char *c)
{
	if (!(reg_read(u, UART_LSR) & UART_LSR_DR))
		return false;
	*c = (char)reg_read(u, UART_RX);
	return true;
}
