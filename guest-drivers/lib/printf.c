// SPDX-License-Identifier: MIT
/*
 * A small printf core over a sink callback, so the same code formats into buffers and onto the
 * console. Numbers are converted into a local buffer, then padded.
 */
#include <stdbool.h>
#include <stdint.h>

#include "lib/console.h"
#include "lib/printf.h"
#include "lib/string.h"

struct spec {
	bool left; /* '-' */
	bool zero; /* '0' */
	int width;
	int precision; /* -1: none */
	int length;    /* -2 hh, -1 h, 0 int, 1 l, 2 ll, 3 z */
};

struct out {
	g_sink_fn sink;
	void *ctx;
	int count;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (n) {
		o->sink(o->ctx, s, n);
		o->count += (int)n;
	}
}

static void pad(struct out *o, char c, int n)
{
	char buf[16];

	memset(buf, c, sizeof(buf));
	while (n > 0) {
		int chunk = n < (int)sizeof(buf) ? n : (int)sizeof(buf);

		emit(o, buf, chunk);
		n -= chunk;
	}
}

/* Emits prefix (sign or 0x) and digits, padded to the field width. */
static void emit_number(struct out *o, const struct spec *sp, const char *prefix,
			const char *digits, int ndigits)
{
	int plen = (int)strlen(prefix);
	int fill = sp->width - plen - ndigits;

	if (sp->left) {
		emit(o, prefix, plen);
		emit(o, digits, ndigits);
		pad(o, ' ', fill);
	} else if (sp->zero) {
		emit(o, prefix, plen);
		pad(o, '0', fill);
		emit(o, digits, ndigits);
	} else {
		pad(o, ' ', fill);
		emit(o, prefix, plen);
		emit(o, digits, ndigits);
	}
}

static void format_unsigned(struct out *o, const struct spec *sp, uint64_t v, unsigned int base,
			    bool upper, const char *prefix)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int i = sizeof(buf);

	do {
		buf[--i] = set[v % base];
		v /= base;
	} while (v);
	emit_number(o, sp, prefix, buf + i, (int)sizeof(buf) - i);
}

static void format_string(struct out *o, const struct spec *sp, const char *s)
{
	int n;

	if (!s)
		s = "(null)";
	n = (int)strnlen(s, sp->precision >= 0 ? (size_t)sp->precision : SIZE_MAX);
	if (!sp->left)
		pad(o, ' ', sp->width - n);
	emit(o, s, n);
	if (sp->left)
		pad(o, ' ', sp->width - n);
}

static int64_t arg_signed(va_list *ap, int length)
{
	switch (length) {
	case -2:
		return (signed char)va_arg(*ap, int);
	case -1:
		return (short)va_arg(*ap, int);
	case 0:
		return va_arg(*ap, int);
	case 1:
		return va_arg(*ap, long);
	case 2:
		return va_arg(*ap, long long);
	default:
		return (int64_t)va_arg(*ap, size_t);
	}
}

static uint64_t arg_unsigned(va_list *ap, int length)
{
	switch (length) {
	case -2:
		return (unsigned char)va_arg(*ap, unsigned int);
	case -1:
		return (unsigned short)va_arg(*ap, unsigned int);
	case 0:
		return va_arg(*ap, unsigned int);
	case 1:
		return va_arg(*ap, unsigned long);
	case 2:
		return va_arg(*ap, unsigned long long);
	default:
		return va_arg(*ap, size_t);
	}
}

/* Parses flags, width, precision and length after a '%'; returns the conversion character. */
static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){.precision = -1};
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		sp->precision = 0;
		for (f++; *f >= '0' && *f <= '9'; f++)
			sp->precision = sp->precision * 10 + (*f - '0');
	}
	for (;; f++) {
		if (*f == 'h')
			sp->length = sp->length > -2 ? sp->length - 1 : -2;
		else if (*f == 'l')
			sp->length = sp->length < 2 ? sp->length + 1 : 2;
		else if (*f == 'z')
			sp->length = 3;
		else
			break;
	}
	return f;
}

static void convert(struct out *o, const struct spec *sp, char c, va_list *ap)
{
	switch (c) {
	case 'd':
	case 'i': {
		int64_t v = arg_signed(ap, sp->length);

		format_unsigned(o, sp, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, false,
				v < 0 ? "-" : "");
		break;
	}
	case 'u':
		format_unsigned(o, sp, arg_unsigned(ap, sp->length), 10, false, "");
		break;
	case 'x':
	case 'X':
		format_unsigned(o, sp, arg_unsigned(ap, sp->length), 16, c == 'X', "");
		break;
	case 'p':
		format_unsigned(o, sp, (uintptr_t)va_arg(*ap, void *), 16, false, "0x");
		break;
	case 's':
		format_string(o, sp, va_arg(*ap, const char *));
		break;
	case 'c': {
		char ch = (char)va_arg(*ap, int);

		emit_number(o, &(struct spec){.left = sp->left, .width = sp->width}, "", &ch, 1);
		break;
	}
	case '%':
		emit(o, "%", 1);
		break;
	default: /* unknown: print it as written so the mistake shows */
		emit(o, "%", 1);
		emit(o, &c, c ? 1 : 0);
		break;
	}
}

int g_vformat(g_sink_fn sink, void *ctx, const char *fmt, va_list ap)
{
	struct out o = {.sink = sink, .ctx = ctx};
	va_list args;

	va_copy(args, ap);
	while (*fmt) {
		const char *pct = fmt;
		struct spec sp;

		while (*pct && *pct != '%')
			pct++;
		emit(&o, fmt, pct - fmt);
		if (!*pct)
			break;
		fmt = parse_spec(pct + 1, &sp, &args);
		convert(&o, &sp, *fmt, &args);
		if (*fmt)
			fmt++;
	}
	va_end(args);
	return o.count;
}

struct buf_sink {
	char *buf;
	size_t size;
	size_t len;
};

static void buf_write(void *ctx, const char *s, size_t n)
{
	struct buf_sink *b = ctx;

	if (b->len + 1 < b->size) {
		size_t room = b->size - 1 - b->len;

		memcpy(b->buf + b->len, s, n < room ? n : room);
	}
	b->len += n;
}

int g_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = {.buf = buf, .size = size};
	int n = g_vformat(buf_write, &b, fmt, ap);

	if (size)
		buf[b.len < size ? b.len : size - 1] = '\0';
	return n;
}

int g_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = g_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void console_sink(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	g_console_write_locked(s, n);
}

int g_vprintf(const char *fmt, va_list ap)
{
	int n;

	g_console_lock();
	n = g_vformat(console_sink, NULL, fmt, ap);
	g_console_unlock();
	return n;
}

int g_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = g_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
