/* SPDX-License-Identifier: MIT */
/*
 * A one-line, user-facing error message that travels up with a -errno (as vmmon's err.h):
 * setup code says what is wrong where it knows, main() prints it once.
 */
#ifndef IOPROXY_ERR_H
#define IOPROXY_ERR_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

struct iop_err {
	char msg[320];
};

/* Formats the message and returns -code (so `return iop_err_set(err, EINVAL, ...)` works). */
__attribute__((format(printf, 3, 4))) static inline int iop_err_set(struct iop_err *err, int code,
								    const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}

#endif
