// SPDX-License-Identifier: MIT
/*
 * echo: reads lines from the console UART and prints each back as "echo: LINE". Receive is
 * interrupt-driven (RDI on ISA IRQ 4, routed through the MP table's I/O APIC pin), so this
 * checks the host's input path end to end. Arguments: lines=N (default 1), seconds=S to wait
 * for each line (default 30).
 */
#include <linux/serial_reg.h>

#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "programs/programs.h"
#include "runtime/platform.h"

#define LINE_MAX 128

static unsigned int arg_uint(const char *key, unsigned int dflt)
{
	const char *v = g_arg(key);
	unsigned int n = 0;

	if (!v || !*v)
		return dflt;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (unsigned int)(*v - '0');
	return n;
}

/* Drains the receiver into line; returns true once a non-empty line has ended. */
static bool take_input(struct g_uart *uart, char *line, unsigned int *len)
{
	char c;

	while (g_uart_read_byte(uart, &c)) {
		if (c == '\r' || c == '\n') {
			if (*len)
				return true;
			continue; /* "\r\n" and empty lines */
		}
		if (*len < LINE_MAX - 1)
			line[(*len)++] = c;
	}
	return false;
}

static int read_line(struct g_run *run, unsigned int vector, uint64_t timeout_us, char *line)
{
	struct g_uart *uart = &g_platform.uart;
	unsigned int len = 0;

	for (;;) {
		/* Count first, then drain: a byte arriving after the drain bumps the count, so
		 * the wait below returns at once instead of missing it. */
		uint64_t seen = g_irq_count(vector);

		if (take_input(uart, line, &len))
			break;
		if (g_irq_wait(vector, seen, timeout_us) == -ETIMEDOUT)
			return g_run_fail(run, "no input line within %lu s",
					  (unsigned long)(timeout_us / 1000000));
	}
	line[len] = 0;
	return 0;
}

int g_echo_main(struct g_run *run)
{
	struct g_uart *uart = &g_platform.uart;
	unsigned int lines = arg_uint("lines", 1), seconds = arg_uint("seconds", 30);
	unsigned int vector;
	char line[LINE_MAX];
	int rc;

	if (g_platform.mp_err)
		return g_run_fail(run, "no usable MP table (error %d)", g_platform.mp_err);
	rc = g_tsc_calibrate();
	if (rc)
		return g_run_fail(run, "PIT channel 2 did not count down (error %d)", rc);
	rc = g_platform_route_isa_irq(uart->irq, &vector);
	if (rc)
		return g_run_fail(run, "routing ISA IRQ %u failed (error %d)", uart->irq, rc);
	g_printf("echo: ready for %u line(s)\n", lines);
	g_uart_set_ier(uart, UART_IER_RDI);
	for (unsigned int i = 0; i < lines && !rc; i++) {
		rc = read_line(run, vector, (uint64_t)seconds * 1000000, line);
		if (!rc)
			g_printf("echo: %s\n", line);
	}
	g_uart_set_ier(uart, 0);
	g_platform_mask_isa_irq(uart->irq);
	return rc;
}
