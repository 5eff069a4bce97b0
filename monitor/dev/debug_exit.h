/* SPDX-License-Identifier: MIT */
/*
 * Debug-exit port, as QEMU's isa-debug-exit: a write of V (any width) ends the VM, and vmmon
 * exits with status V. Lets test guests report pass/fail without a console parser.
 */
#ifndef VMMON_DEV_DEBUG_EXIT_H
#define VMMON_DEV_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

struct debug_exit {
	void (*exit)(void *ctx, uint32_t value);
	void *ctx;
};

void debug_exit_init(struct debug_exit *d, void (*exit)(void *ctx, uint32_t value), void *ctx);
int debug_exit_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
