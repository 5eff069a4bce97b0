/* SPDX-License-Identifier: MIT */
#include "jsonw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static bool reserve(struct jsonw *w, size_t more)
{
	if (w->oom)
		return false;
	if (w->len + more + 1 <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + more + 1)
		cap *= 2;
	char *p = realloc(w->p, cap);
	if (!p) {
		w->oom = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void jsonw_raw(struct jsonw *w, const char *s)
{
	put(w, s, strlen(s));
}

void jsonw_printf(struct jsonw *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(w, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	w->len += (size_t)n;
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_raw(w, "null");
		return;
	}
	put(w, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char esc[8];
		switch (*c) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default:
			if (*c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *c);
				put(w, esc, 6);
			} else {
				put(w, (const char *)c, 1);
			}
		}
	}
	put(w, "\"", 1);
}

char *jsonw_take(struct jsonw *w)
{
	char *p = w->oom ? NULL : w->p;
	if (!p && !w->oom)
		p = strdup("");
	if (w->oom)
		free(w->p);
	*w = (struct jsonw){0};
	return p;
}

void jsonw_free(struct jsonw *w)
{
	free(w->p);
	*w = (struct jsonw){0};
}

int vmm_api_error(struct vmm_api_response *r, int status, const char *cause, const char *root)
{
	struct jsonw w = {0};
	jsonw_raw(&w, "[");
	jsonw_str(&w, cause ? cause : "error");
	if (root) {
		jsonw_raw(&w, ",");
		jsonw_str(&w, root);
	}
	jsonw_raw(&w, "]");
	free(r->body);
	r->status = status;
	r->body = jsonw_take(&w);
	return -EINVAL;
}
