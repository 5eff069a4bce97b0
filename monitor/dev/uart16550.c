/* SPDX-License-Identifier: MIT */
#include "uart16550.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>

/* The only bits of each register a 16550A implements. */
#define IER_MASK      0x0f
#define MCR_MASK      0x1f
#define IIR_FIFO_BITS 0xc0

/* Power-on values (datasheet table "UART reset configuration"), with the modem lines of a
 * connected terminal: carrier, data set ready, clear to send. */
static const struct uart16550 reset_template = {
	.lsr = UART_LSR_THRE | UART_LSR_TEMT,
	.msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS,
};

static bool fifo_on(const struct uart16550 *u)
{
	return u->fcr & UART_FCR_ENABLE_FIFO;
}

static unsigned rx_capacity(const struct uart16550 *u)
{
	return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
	static const unsigned levels[] = {1, 4, 8, 14};
	return levels[UART_FCR_R_TRIG_BITS(u->fcr)];
}

/* The interrupt the IIR reports, by the datasheet's priority order. */
static uint8_t pending_iir(const struct uart16550 *u)
{
	if ((u->ier & UART_IER_RLSI) && (u->lsr & UART_LSR_BRK_ERROR_BITS))
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count) {
		/* Data below the trigger level is reported as a character timeout at once: we do
		 * not model character times, and drivers treat both the same way. */
		if (fifo_on(u) && u->rx_count < rx_trigger(u))
			return UART_IIR_RX_TIMEOUT;
		return UART_IIR_RDI;
	}
	if ((u->ier & UART_IER_THRI) && u->thr_ipending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_ANY_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/* Recomputes the interrupt line. On a PC the line reaches the interrupt controller only while
 * OUT2 is set, and loopback mode disconnects it. */
static void update_irq(struct uart16550 *u)
{
	bool level = pending_iir(u) != UART_IIR_NO_INT && (u->mcr & UART_MCR_OUT2) &&
		     !(u->mcr & UART_MCR_LOOP);
	if (level != u->irq_level) {
		u->irq_level = level;
		vmm_irq_set(&u->irq, level);
	}
}

static void rx_clear(struct uart16550 *u)
{
	u->rx_head = u->rx_count = 0;
	u->lsr &= ~UART_LSR_DR;
}

static void rx_put(struct uart16550 *u, uint8_t byte)
{
	if (u->rx_count == rx_capacity(u)) {
		u->lsr |= UART_LSR_OE;
		/* Datasheet, LSR bit 1: without FIFOs the new character replaces the one in RBR;
		 * with them, the FIFO keeps its contents and the new character is lost. */
		if (!fifo_on(u))
			u->rx[u->rx_head] = byte;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
	u->lsr |= UART_LSR_DR;
}

static uint8_t rx_get(struct uart16550 *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	if (--u->rx_count == 0)
		u->lsr &= ~UART_LSR_DR;
	return byte;
}

/* Modem status inputs: a connected terminal, or in loopback the MCR outputs wired back. */
static void update_msr(struct uart16550 *u)
{
	uint8_t lines = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	if (u->mcr & UART_MCR_LOOP) {
		lines = 0;
		if (u->mcr & UART_MCR_RTS)
			lines |= UART_MSR_CTS;
		if (u->mcr & UART_MCR_DTR)
			lines |= UART_MSR_DSR;
		if (u->mcr & UART_MCR_OUT1)
			lines |= UART_MSR_RI;
		if (u->mcr & UART_MCR_OUT2)
			lines |= UART_MSR_DCD;
	}
	uint8_t old = u->msr;
	uint8_t delta = old & UART_MSR_ANY_DELTA;
	if ((old ^ lines) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ lines) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old ^ lines) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI; /* trailing edge only */
	u->msr = lines | delta;
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
	/* Writing THR clears a pending THRE interrupt; drop the line so that the THRE which
	 * follows is a fresh edge for an edge-triggered controller. */
	u->thr_ipending = false;
	update_irq(u);
	if (u->mcr & UART_MCR_LOOP)
		rx_put(u, byte);
	else if (u->tx)
		u->tx(u->ctx, byte);
	/* The byte leaves at once: we do not model baud rates. */
	u->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
	u->thr_ipending = true;
}

void uart_init(struct uart16550 *u, struct vmm_irq irq, void (*tx)(void *, uint8_t),
	       void (*rx_space)(void *), void *ctx)
{
	*u = reset_template;
	pthread_mutex_init(&u->lock, NULL);
	u->irq = irq;
	u->tx = tx;
	u->rx_space = rx_space;
	u->ctx = ctx;
}

void uart_destroy(struct uart16550 *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t read_locked(struct uart16550 *u, unsigned off, bool *drained)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t val = 0;
	switch (off) {
	case UART_RX:
		if (dlab)
			return u->dll;
		val = rx_get(u);
		*drained = u->rx_count == 0;
		break;
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		val = pending_iir(u);
		if (val == UART_IIR_THRI)
			u->thr_ipending = false; /* reading IIR acknowledges THRE */
		val |= fifo_on(u) ? IIR_FIFO_BITS : 0;
		break;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		val = u->lsr;
		u->lsr &= ~(UART_LSR_BRK_ERROR_BITS | UART_LSR_FIFOE); /* cleared by reading */
		break;
	case UART_MSR:
		val = u->msr;
		u->msr &= ~UART_MSR_ANY_DELTA;
		break;
	case UART_SCR:
		return u->scr;
	}
	update_irq(u);
	return val;
}

uint8_t uart_read(struct uart16550 *u, unsigned off)
{
	bool drained = false;
	pthread_mutex_lock(&u->lock);
	uint8_t val = read_locked(u, off, &drained);
	pthread_mutex_unlock(&u->lock);
	if (drained && u->rx_space)
		u->rx_space(u->ctx);
	return val;
}

static void write_fcr(struct uart16550 *u, uint8_t val)
{
	/* Turning the FIFOs on or off clears them (datasheet, FCR bit 0). */
	if ((val ^ u->fcr) & UART_FCR_ENABLE_FIFO)
		rx_clear(u);
	if (val & UART_FCR_CLEAR_RCVR)
		rx_clear(u);
	/* The transmit FIFO is always empty here, so CLEAR_XMIT has nothing to do. */
	u->fcr = val & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK);
}

static void write_locked(struct uart16550 *u, unsigned off, uint8_t val)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_TX:
		if (dlab)
			u->dll = val;
		else
			transmit(u, val);
		break;
	case UART_IER:
		if (dlab) {
			u->dlm = val;
			break;
		}
		/* Enabling THRI while THR is empty raises THRE at once (datasheet, IIR). */
		if ((val & ~u->ier & UART_IER_THRI) && (u->lsr & UART_LSR_THRE))
			u->thr_ipending = true;
		u->ier = val & IER_MASK;
		break;
	case UART_FCR:
		write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		update_msr(u);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only on the 16550A */
	case UART_SCR:
		u->scr = val;
		break;
	}
	update_irq(u);
}

void uart_write(struct uart16550 *u, unsigned off, uint8_t val)
{
	pthread_mutex_lock(&u->lock);
	write_locked(u, off, val);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_rx_push(struct uart16550 *u, const uint8_t *buf, size_t n)
{
	size_t done = 0;
	pthread_mutex_lock(&u->lock);
	/* Host input never overruns: it waits for room (rx_space) instead of being dropped. In
	 * loopback the receiver is disconnected from the outside. */
	if (!(u->mcr & UART_MCR_LOOP)) {
		while (done < n && u->rx_count < rx_capacity(u))
			rx_put(u, buf[done++]);
		update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
	return done;
}

size_t uart_rx_room(struct uart16550 *u)
{
	pthread_mutex_lock(&u->lock);
	size_t room = (u->mcr & UART_MCR_LOOP) ? 0 : rx_capacity(u) - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return room;
}

int uart_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct uart16550 *u = dev;
	if (len != 1 || off >= UART_NR_PORTS)
		return -EINVAL;
	if (is_write)
		uart_write(u, (unsigned)off, data[0]);
	else
		data[0] = uart_read(u, (unsigned)off);
	return 0;
}
