/* SPDX-License-Identifier: MIT */
/* A JSON text built in a growing buffer: the API's replies and events. An allocation failure is
 * remembered and reported once, by jsonw_take. */
#ifndef VMMON_API_JSONW_H
#define VMMON_API_JSONW_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Appends text as it is (punctuation, numbers, literals). */
void jsonw_raw(struct jsonw *w, const char *s);
void jsonw_printf(struct jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string: quoted, with '"', '\\' and control characters escaped (bytes
 * from 0x80 up pass through: the API's strings are UTF-8 or the caller's paths). NULL: null. */
void jsonw_str(struct jsonw *w, const char *s);
/* The text (NUL-terminated, the caller frees it), or NULL after an allocation failure. The
 * writer is empty again afterwards. */
char *jsonw_take(struct jsonw *w);
void jsonw_free(struct jsonw *w);

#endif
