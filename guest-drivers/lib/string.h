/* SPDX-License-Identifier: MIT */
/*
 * The C string functions the guest uses. They keep their standard names because the compiler
 * emits calls to memcpy/memset/memmove/memcmp on its own, even when freestanding.
 */
#ifndef G_LIB_STRING_H
#define G_LIB_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Copies at most size - 1 bytes and always terminates (if size > 0); returns strlen(src). */
size_t g_strlcpy(char *dst, const char *src, size_t size);

#endif
