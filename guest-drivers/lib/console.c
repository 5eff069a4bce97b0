// SPDX-License-Identifier: MIT
#include <stdint.h>

#include "drivers/uart.h"
#include "guest_abi.h"
#include "lib/atomic.h"
#include "lib/console.h"
#include "lib/spinlock.h"
#include "runtime/cpu.h"

static struct g_uart boot_uart = G_UART_INIT_POLLED(GUEST_COM1_PORT, GUEST_COM1_IRQ);
static struct g_uart *console_uart = &boot_uart;

static struct g_spinlock console_spin;
static int console_owner = -1; /* CPU index holding console_spin; written under it */
static unsigned int console_depth;

void g_console_set_uart(struct g_uart *uart)
{
	console_uart = uart;
}

struct g_uart *g_console_uart(void)
{
	return console_uart;
}

void g_console_lock(void)
{
	int self = (int)g_cpu_index();

	/* Only this CPU can have stored its own index here, so a relaxed read that matches means
	 * we already hold the lock. */
	if (G_READ_ONCE(console_owner) == self) {
		console_depth++;
		return;
	}
	g_spin_lock(&console_spin);
	G_WRITE_ONCE(console_owner, self);
	console_depth = 1;
}

void g_console_unlock(void)
{
	if (--console_depth)
		return;
	G_WRITE_ONCE(console_owner, -1);
	g_spin_unlock(&console_spin);
}

void g_console_write_locked(const char *s, size_t n)
{
	g_uart_write(console_uart, s, n);
}
