/* SPDX-License-Identifier: MIT */
/*
 * What every ring test shares: the eight ring configurations it reruns across (split/packed x
 * EVENT_IDX x indirect), and UBSan options that make undefined behaviour fail the test in the
 * sanitizer build instead of printing and going on. Include it from one file per program.
 */
#ifndef TESTS_RING_CONFIGS_H
#define TESTS_RING_CONFIGS_H

#include <stdbool.h>

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

struct tcfg {
	const char *name;
	bool packed, event_idx, indirect;
};

static const struct tcfg cfgs[] = {
	{"split", false, false, false},		{"split+event_idx", false, true, false},
	{"split+indirect", false, false, true}, {"split+event_idx+indirect", false, true, true},
	{"packed", true, false, false},		{"packed+event_idx", true, true, false},
	{"packed+indirect", true, false, true}, {"packed+event_idx+indirect", true, true, true},
};

#endif
