/* SPDX-License-Identifier: MIT */
/*
 * Formatted output: %d %i %u %x %X %p %s %c %%, with the flags '-' and '0', a width (or '*'), a
 * precision for %s, and the length modifiers hh h l ll z.
 */
#ifndef G_LIB_PRINTF_H
#define G_LIB_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

/* Receives the formatted output in pieces. */
typedef void (*g_sink_fn)(void *ctx, const char *s, size_t n);

/* Returns the number of characters produced. */
int g_vformat(g_sink_fn sink, void *ctx, const char *fmt, va_list ap);

/* Like the C functions: output is truncated to size - 1 characters and terminated; the return
 * value is the untruncated length. */
int g_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int g_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* To the console (lib/console.h), one call under one lock hold so lines from CPUs do not mix. */
int g_vprintf(const char *fmt, va_list ap);
int g_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
