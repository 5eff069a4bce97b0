/* SPDX-License-Identifier: MIT */
/*
 * A one-line, user-facing error message that travels up with a -errno. Setup code fills it in
 * where it knows what is wrong and how to fix it; main() prints it once. One type for vmmon,
 * ioproxy and the code they share.
 */
#ifndef HOST_ERR_H
#define HOST_ERR_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

struct host_err {
	char msg[320];
};

/* Formats the message and returns -code (so `return host_err_set(err, EINVAL, ...)` works). */
__attribute__((format(printf, 3, 4))) static inline int host_err_set(struct host_err *err, int code,
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
