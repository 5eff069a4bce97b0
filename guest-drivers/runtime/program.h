/* SPDX-License-Identifier: MIT */
/*
 * Programs: selected with run=NAME on the command line. A program returns 0 to pass, or the
 * result of g_run_fail() with the reason. The runtime prints the last line, "guest: PASS name"
 * or "guest: FAIL name: why", and exits through debug-exit with G_EXIT_PASS or G_EXIT_FAIL.
 */
#ifndef G_RUNTIME_PROGRAM_H
#define G_RUNTIME_PROGRAM_H

#include <stddef.h>

struct g_run {
	const char *name;
	char why[160];
};

struct g_program {
	const char *name;
	int (*main)(struct g_run *run);
};

/* programs/programs.c */
extern const struct g_program g_programs[];
extern const size_t g_program_count;

/* Records the reason of the first failure; returns -1 ("return g_run_fail(run, ...)"). */
int g_run_fail(struct g_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The program being run, for reports ("boot" before the command line is read). */
const char *g_program_name(void);

/* The command-line value of key ("key=value"; "" for a bare "key"), or NULL. */
const char *g_arg(const char *key);

/* key as a decimal number in *out, dflt when absent or empty; -EINVAL for anything else. */
int g_arg_uint(const char *key, unsigned int dflt, unsigned int *out);

#endif
