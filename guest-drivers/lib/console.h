/* SPDX-License-Identifier: MIT */
/*
 * The console: the UART that printf writes to, behind one lock so that several CPUs can print.
 * The lock is recursive per CPU, so the ring-0 fault report can print even when the fault hit
 * this CPU in the middle of a printf.
 */
#ifndef G_LIB_CONSOLE_H
#define G_LIB_CONSOLE_H

#include <stddef.h>

struct g_uart;

/* Until this is called the console polls COM1 byte by byte. */
void g_console_set_uart(struct g_uart *uart);
struct g_uart *g_console_uart(void);

void g_console_lock(void);
void g_console_unlock(void);
void g_console_write_locked(const char *s, size_t n);

#endif
