// SPDX-License-Identifier: MIT
#include "programs/programs.h"

/* In the order "unknown program" lists them. */
const struct g_program g_programs[] = {
	{"hello", g_hello_main},       /* what the guest was given */
	{"selftest", g_selftest_main}, /* traps, timer, UART interrupt, APs */
	{"fault", g_fault_main},       /* an uncaught exception */
	{"echo", g_echo_main},	       /* serial input */
	{"blktest", g_blktest_main},   /* virtio-blk */
	{"nettest", g_nettest_main},   /* virtio-net */
	{"nettx", g_nettx_main},       /* transmit throughput */
	{"netrx", g_netrx_main},       /* receive throughput */
	{"contest", g_contest_main},   /* virtio-console */
	{"rngtest", g_rngtest_main},   /* virtio-rng */
	{"hostile", g_hostile_main},   /* a malicious virtio-blk driver */
};

const size_t g_program_count = sizeof(g_programs) / sizeof(g_programs[0]);
