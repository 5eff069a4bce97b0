// SPDX-License-Identifier: MIT
#include "programs/programs.h"

/* In the order "unknown program" lists them. */
const struct g_program g_programs[] = {
	{"hello", g_hello_main},
	{"selftest", g_selftest_main},
	{"fault", g_fault_main},
	{"echo", g_echo_main},
};

const size_t g_program_count = sizeof(g_programs) / sizeof(g_programs[0]);
