/* SPDX-License-Identifier: MIT */
#include "debug_exit.h"

#include <errno.h>
#include <string.h>

void debug_exit_init(struct debug_exit *d, void (*exit)(void *, uint32_t), void *ctx)
{
	d->exit = exit;
	d->ctx = ctx;
}

int debug_exit_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct debug_exit *d = dev;
	(void)off;
	if (!is_write || len > sizeof(uint32_t))
		return -EINVAL; /* reads are unimplemented, as in QEMU: all ones */
	uint32_t value = 0;
	memcpy(&value, data, len); /* x86 is little-endian: the low bytes come first */
	d->exit(d->ctx, value);
	return 0;
}
