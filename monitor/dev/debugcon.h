/* SPDX-License-Identifier: MIT */
/*
 * The debug console port, as QEMU's isa-debugcon at 0x402 where SeaBIOS looks for it: every
 * byte written goes out (SeaBIOS's log), and a read returns 0xE9, the value by which SeaBIOS
 * (and Bochs-style guests) detect the port before they write to it. Not on the bus when
 * --debugcon is off, so a firmware finds no port there and logs nothing.
 */
#ifndef VMMON_DEV_DEBUGCON_H
#define VMMON_DEV_DEBUGCON_H

#include <stdbool.h>
#include <stdint.h>

#define DEBUGCON_PORT	  0x402
#define DEBUGCON_READBACK 0xe9

struct debugcon {
	void (*out)(void *ctx, uint8_t byte);
	void *ctx;
};

void debugcon_init(struct debugcon *d, void (*out)(void *ctx, uint8_t byte), void *ctx);
/* Byte accesses only: a wider one is refused (all ones, counted by the bus). */
int debugcon_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
